"""The main window: a sidebar of workflow steps over a stack of pages."""
from __future__ import annotations

import importlib

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QMainWindow, QStackedWidget, QWidget

from tlstudio.qt.app_state import AppState
from tlstudio.qt.pages.base import Page, PageHost
from tlstudio.qt.workers import EngineTask

# (key, sidebar title, module under tlstudio.qt.pages, class name), in workflow order.
PAGES = (
    ("data", "1  Data", "data_page", "DataPage"),
    ("augment", "2  Augment", "augment_page", "AugmentPage"),
    ("model", "3  Model", "model_page", "ModelPage"),
    ("lr", "4  Learning rate", "lr_page", "LrPage"),
    ("train", "5  Train", "train_page", "TrainPage"),
    ("evaluate", "6  Evaluate", "evaluate_page", "EvaluatePage"),
    ("export", "7  Export", "export_page", "ExportPage"),
)


class MainWindow(QMainWindow):
    def __init__(self, state: AppState | None = None):
        super().__init__()
        self.state = state or AppState(self)
        self.setWindowTitle("TL Studio")
        self.sidebar = QListWidget()
        self.sidebar.setFixedWidth(170)
        self.stack = QStackedWidget()
        self.pages: dict[str, Page] = {}
        self.hosts: dict[str, PageHost] = {}
        for key, title, module, cls in PAGES:
            page = getattr(importlib.import_module(f"tlstudio.qt.pages.{module}"), cls)(self.state)
            host = PageHost(page, self.state)
            self.pages[key] = page
            self.hosts[key] = host
            self.stack.addWidget(host)
            item = QListWidgetItem(title)
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.sidebar.addItem(item)
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.sidebar.setCurrentRow(0)
        self.state.navigate_requested.connect(self.show_page)
        self.state.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.resize(1200, 800)

    def show_page(self, key: str) -> None:
        self.sidebar.setCurrentRow(list(self.pages).index(key))

    def current_page_key(self) -> str:
        return list(self.pages)[self.sidebar.currentRow()]

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        for page in self.pages.values():
            page.shutdown()
        EngineTask.shutdown_all()
        super().closeEvent(event)
