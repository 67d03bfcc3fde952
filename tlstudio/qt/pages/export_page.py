"""Export page (placeholder until implemented)."""
from PySide6.QtWidgets import QLabel, QVBoxLayout

from tlstudio.qt.pages.base import Page, NEEDS_MODEL


class ExportPage(Page):
    key = "export"
    title = "Export"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        QVBoxLayout(self).addWidget(QLabel("Export"))

    def missing(self):
        return NEEDS_MODEL if self.state.training is None else None
