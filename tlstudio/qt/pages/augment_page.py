"""Augment page (placeholder until implemented)."""
from PySide6.QtWidgets import QLabel, QVBoxLayout

from tlstudio.qt.pages.base import Page, NEEDS_DATASET


class AugmentPage(Page):
    key = "augment"
    title = "Augment"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        QVBoxLayout(self).addWidget(QLabel("Augment"))

    def missing(self):
        return NEEDS_DATASET if self.state.dataset is None else None
