"""The contract every workflow page follows, and the host that gates it.

A page is a QWidget built from the shared AppState. When it cannot work yet
(no dataset, no trained model) `missing()` says what is missing and which page
provides it; the host then shows that message and a button to go there,
never a dead widget.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from tlstudio.qt.app_state import AppState


@dataclass(frozen=True)
class Requirement:
    message: str  # e.g. "Open a dataset first."
    page_key: str  # the page that provides it
    button_text: str  # e.g. "Go to Data"


class Page(QWidget):
    key: str = ""
    title: str = ""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state

    def missing(self) -> Requirement | None:
        """What this page needs that the app does not have yet, or None."""
        return None

    def confirm_close(self) -> bool:
        """Asked before the window closes; False keeps it open (e.g. the user
        chose not to stop a training run)."""
        return True

    def shutdown(self) -> None:
        """Called when the window closes: cancel this page's own work."""


NEEDS_DATASET = Requirement("Open a dataset first: drop a folder, a .zip or a CSV on the window.", "data", "Go to Data")
NEEDS_MODEL = Requirement("Train a model first.", "train", "Go to Train")


class PageHost(QStackedWidget):
    """Shows the page, or what it is missing with a button to the step that provides it."""

    def __init__(self, page: Page, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.page = page
        self._state = state
        self._gate = QWidget()
        layout = QVBoxLayout(self._gate)
        layout.addStretch(1)
        self.gate_label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.gate_button = QPushButton()
        self.gate_button.clicked.connect(self._go)
        layout.addWidget(self.gate_label)
        layout.addWidget(self.gate_button, alignment=Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(2)
        self.addWidget(self._gate)
        self.addWidget(page)
        for signal in (state.dataset_changed, state.training_changed, state.train_config_changed):
            signal.connect(self.refresh)
        self.refresh()

    def refresh(self, *_args) -> None:
        need = self.page.missing()
        if need is None:
            self.setCurrentWidget(self.page)
        else:
            self._need = need
            self.gate_label.setText(need.message)
            self.gate_button.setText(need.button_text)
            self.setCurrentWidget(self._gate)

    def is_gated(self) -> bool:
        return self.currentWidget() is self._gate

    def _go(self) -> None:
        self._state.navigate(self._need.page_key)
