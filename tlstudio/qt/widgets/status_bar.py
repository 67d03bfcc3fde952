"""The window's status bar: a message too long for the bar is elided, whole in the tooltip.

QStatusBar paints a temporary message in one line and cuts it off at its right
edge; messages here name files and runs ("kept epoch 3 (stage 2 epoch 1, …)")
and often are longer than a small window is wide.
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizeGrip, QStatusBar, QWidget

# QStatusBar paints its message from 6 px in to 12 px before the right edge,
# or to the size grip (QStatusBarPrivate::messageRect).
LEFT_INSET, RIGHT_INSET = 6, 12


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._message = ""
        self._deadline: float | None = None  # when the message goes, as time.monotonic()
        self.messageChanged.connect(self._message_changed)

    def message(self) -> str:
        """The whole message shown now (elided or not), or ""."""
        return self._message

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 (Qt name)
        self._message = text
        self._deadline = time.monotonic() + timeout / 1000 if timeout > 0 else None
        self._show(timeout)

    def room(self) -> int:
        """The width a message may take without being cut off."""
        return message_room(self)

    def _show(self, timeout: int) -> None:
        # Hidden, the bar's width means nothing yet: elided once it is shown and sized.
        shown = self._message
        if self.isVisible():
            shown = self.fontMetrics().elidedText(self._message, Qt.TextElideMode.ElideRight, self.room())
        self.setToolTip(self._message if shown != self._message else "")
        super().showMessage(shown, timeout)

    def _message_changed(self, text: str) -> None:
        if not text:  # timed out or cleared
            self._message, self._deadline = "", None
            self.setToolTip("")

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._reshow()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self._reshow()

    def _reshow(self) -> None:
        if self._message:
            left = 0 if self._deadline is None else max(1, int((self._deadline - time.monotonic()) * 1000))
            self._show(left)


def message_room(bar: QStatusBar) -> int:
    """The width QStatusBar gives a temporary message (permanent widgets aside: this window has none)."""
    right = bar.width() - RIGHT_INSET
    grip = bar.findChild(QSizeGrip)
    if grip is not None and grip.isVisible():
        right = grip.x()
    return right - LEFT_INSET
