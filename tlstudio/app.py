"""Builds the QApplication and the main window; nothing else does.

`TLSTUDIO_STARTUP_PROBE=1` prints `TLSTUDIO_PAINTED <epoch seconds>` once the
window has painted for the first time (`=quit` also exits then): the startup
benchmark reads it.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

# How long a thread may hold the GIL while another waits for it. Python's
# default (5 ms) lets a worker thread running Python (a scan, thumbnail
# decoding, fastai's data pipeline) keep the GUI thread waiting 5 ms for each
# of the many calls Qt makes into Python during a repaint; 1 ms keeps
# scrolling smooth and costs the workers little (torch releases the GIL in
# its heavy operations anyway).
GUI_SWITCH_INTERVAL_S = 0.001


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="tlstudio", description="Open the TL Studio window.")
    parser.add_argument("dataset", nargs="?", help="a dataset folder, .zip or CSV to open at start")
    return parser.parse_known_args(argv)


def create_application(qt_args: list[str] | None = None):
    from PySide6.QtWidgets import QApplication

    from tlstudio.qt import settings
    from tlstudio.qt.resources import app_icon

    app = QApplication.instance() or QApplication([sys.argv[0], *(qt_args or [])])
    app.setApplicationName(settings.APPLICATION)
    app.setOrganizationName(settings.ORGANIZATION)
    app.setApplicationDisplayName("TL Studio")
    app.setDesktopFileName("tlstudio")
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())
    return app


@contextlib.contextmanager
def responsive_gui_thread():
    """Hand the GIL to the GUI thread sooner while the window runs; restored afterwards."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _install_startup_probe(window, mode: str) -> None:
    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 (Qt name)
            if event.type() == QEvent.Type.Paint:
                obj.removeEventFilter(self)
                QTimer.singleShot(0, report)
            return False

    def report():
        print(f"TLSTUDIO_PAINTED {time.time():.6f}", flush=True)
        if mode == "quit":
            window.close()

    window._startup_probe = FirstPaint(window)
    window.installEventFilter(window._startup_probe)


def main(argv: list[str] | None = None) -> int:
    from tlstudio.library_warnings import quiet_library_warnings

    quiet_library_warnings()
    args, qt_args = _parse(list(sys.argv[1:] if argv is None else argv))
    app = create_application(qt_args)

    from PySide6.QtCore import QTimer

    from tlstudio.qt.main_window import MainWindow

    window = MainWindow()
    probe = os.environ.get("TLSTUDIO_STARTUP_PROBE")
    if probe:
        _install_startup_probe(window, probe)
    window.show()
    if args.dataset:
        QTimer.singleShot(0, lambda: window.open_dataset(args.dataset))
    with responsive_gui_thread():
        return app.exec()
