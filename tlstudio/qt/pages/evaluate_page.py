"""Evaluate page (placeholder until implemented)."""
from PySide6.QtWidgets import QLabel, QVBoxLayout

from tlstudio.qt.pages.base import Page, NEEDS_MODEL


class EvaluatePage(Page):
    key = "evaluate"
    title = "Evaluate"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        QVBoxLayout(self).addWidget(QLabel("Evaluate"))

    def missing(self):
        return NEEDS_MODEL if self.state.training is None else None
