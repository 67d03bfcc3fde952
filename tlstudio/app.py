"""Builds the QApplication and the main window; nothing else does."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from tlstudio.qt.main_window import MainWindow

    argv = list(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("TL Studio")
    app.setOrganizationName("TL Studio")
    app.setStyle("Fusion")
    window = MainWindow()
    window.show()
    return app.exec()
