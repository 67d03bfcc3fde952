"""An inline message strip (error, warning or info) that stays until dismissed, never a modal dialog."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

STYLES = {
    "error": ("#fdecea", "#e0a39c", "#7a1f14"),
    "warning": ("#fff6e0", "#e6c67a", "#6b4a00"),
    "info": ("#e8f1fb", "#9dbfe3", "#123d6b"),
}


class MessageBanner(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("MessageBanner")
        self.label = QLabel(wordWrap=True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(text="✕", autoRaise=True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 6, 8)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "error") -> None:
        background, border, color = STYLES[level]
        self.level = level
        self.setStyleSheet(
            f"#MessageBanner {{ background: {background}; border: 1px solid {border}; border-radius: 4px; }}"
            f"#MessageBanner QLabel {{ color: {color}; }}"
        )
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return "" if self.isHidden() else self.label.text()
