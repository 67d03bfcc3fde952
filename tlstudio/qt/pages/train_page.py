"""Train page (placeholder until implemented)."""
from PySide6.QtWidgets import QLabel, QVBoxLayout

from tlstudio.qt.pages.base import Page, NEEDS_DATASET


class TrainPage(Page):
    key = "train"
    title = "Train"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        QVBoxLayout(self).addWidget(QLabel("Train"))

    def missing(self):
        return NEEDS_DATASET if self.state.dataset is None else None
