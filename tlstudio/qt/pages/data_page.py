"""Data page (placeholder until implemented)."""
from PySide6.QtWidgets import QLabel, QVBoxLayout

from tlstudio.qt.pages.base import Page


class DataPage(Page):
    key = "data"
    title = "Data"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        QVBoxLayout(self).addWidget(QLabel("Data"))
