"""The one question asked before a model file that can run code is opened."""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def ask_trust(parent: QWidget, message: str) -> bool:
    """True when the user says they trust the file `message` describes; No is the default."""
    answer = QMessageBox.warning(
        parent,
        "Load a model of unknown origin?",
        f"{message}.\n\nLoad it anyway?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes
