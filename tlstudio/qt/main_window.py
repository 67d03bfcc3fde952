"""The main window: a sidebar of workflow steps over a stack of pages, menus, and dataset drops."""
from __future__ import annotations

import importlib
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QMainWindow, QMenu, QStackedWidget, QWidget

from tlstudio.core.printable import printable
from tlstudio.qt import settings
from tlstudio.qt.app_state import AppState
from tlstudio.qt.gui_thread_gc import collect_on_gui_thread
from tlstudio.qt.help_menu import add_help_menu
from tlstudio.qt.pages.base import Page, PageHost
from tlstudio.qt.project_controller import ProjectController
from tlstudio.qt.project_menu import add_project_actions
from tlstudio.qt.runs_dock import add_runs_dock
from tlstudio.qt.widgets.status_bar import StatusBar
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
    ("predict", "8  Predict", "predict_page", "PredictPage"),
)

# What each step is for, as the sidebar's tooltips.
STEP_TIPS = {
    "data": "Open a dataset and look at it: classes, splits, every image and every skipped file",
    "augment": "Choose the image size and the random augmentations, previewed through fastai's own pipeline",
    "model": "Choose the architecture, its pretrained weights and how deep stage 2 unfreezes",
    "lr": "Run the learning-rate finder and choose the rates for both stages",
    "train": "Train: the head first (body frozen), then the unfrozen layers; live curves, cancel at any point",
    "evaluate": "Confusion matrix, top losses, per-class metrics and ROC curves of the trained model",
    "export": "Save the trained model, verified by reloading it, and try it on new images",
    "predict": "Run any model file on images or folders: top classes, confidence, CSV, accuracy on labelled data",
}

STATUS_MESSAGE_MS = 8000
SIDEBAR_WIDTH = 168  # the longest step name with its padding; every pixel more is taken from the pages

SIDEBAR_STYLE = """
QListWidget#Sidebar { background: #f1f3f5; border: none; border-right: 1px solid #d8dce0; padding-top: 8px; outline: 0; }
QListWidget#Sidebar::item { padding: 9px 14px; border-radius: 4px; margin: 1px 6px; color: #2b2f33; }
QListWidget#Sidebar::item:hover { background: #e3e7eb; }
QListWidget#Sidebar::item:selected { background: #2f6fbd; color: white; }
"""


def dropped_path(mime) -> Path | None:
    """The first local file or folder in a drag's data, if any."""
    if mime is None or not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile():
            return Path(url.toLocalFile())
    return None


class MainWindow(QMainWindow):
    def __init__(self, state: AppState | None = None):
        super().__init__()
        collect_on_gui_thread()
        self.state = state or AppState(self)
        self.setWindowTitle("TL Studio")
        self.setAcceptDrops(True)
        self.sidebar = QListWidget(objectName="Sidebar")
        self.sidebar.setFixedWidth(SIDEBAR_WIDTH)
        self.sidebar.setStyleSheet(SIDEBAR_STYLE)
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
            item.setToolTip(STEP_TIPS.get(key, ""))
            self.sidebar.addItem(item)
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.sidebar.setCurrentRow(0)
        self.state.navigate_requested.connect(self.show_page)
        self.setStatusBar(StatusBar())  # elides a long message to the bar's width, whole in the tooltip
        self.state.status_message.connect(lambda text: self.statusBar().showMessage(text, STATUS_MESSAGE_MS))
        self.data_page.dataset_opened.connect(self._remember)
        self.state.dataset_changed.connect(self._update_title)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.projects = ProjectController(self)
        self.state.project.changed.connect(lambda _p: self._update_title(self.state.dataset))
        self._build_menus()
        self.resize(1200, 800)
        geometry, window_state = settings.window_geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if window_state is not None:
            self.restoreState(window_state)

    @property
    def data_page(self):
        return self.pages["data"]

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_folder_action = self._action(file_menu, "&Open dataset folder…", self.data_page.open_folder_dialog, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open &zip or CSV file…", self.data_page.open_file_dialog, "Ctrl+Alt+O")
        self._action(file_menu, "Open &demo dataset", self.data_page.open_demo)
        self.recent_menu = QMenu("&Recent datasets", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        self._fill_recent_menu()
        file_menu.addSeparator()
        add_project_actions(self, file_menu, self.projects)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q").setMenuRole(QAction.MenuRole.QuitRole)

        go_menu = self.menuBar().addMenu("&Go")
        self.step_actions = []
        for number, (key, title, *_rest) in enumerate(PAGES, start=1):
            action = self._action(go_menu, title.split(maxsplit=1)[1], lambda _=False, k=key: self.show_page(k), f"Ctrl+{number}")
            self.step_actions.append(action)
        self.runs_dock = add_runs_dock(self, go_menu)
        add_help_menu(self)

    def _action(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = settings.recent_datasets()
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_dataset(p))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", lambda: [settings.forget_recent_dataset(p) for p in recent])
        else:
            self.recent_menu.addAction("No recent datasets").setEnabled(False)

    def _remember(self, path: str) -> None:
        settings.add_recent_dataset(path)
        self._fill_recent_menu()

    def _update_title(self, spec) -> None:
        parts = [] if spec is None else [printable(Path(spec.source_zip or spec.root).name)]
        project = self.state.project.project
        if project is not None:
            parts.insert(0, f"{printable(project.name)} project")
        self.setWindowTitle(" — ".join(parts + ["TL Studio"]))

    # --- navigation and opening ---------------------------------------------
    def show_page(self, key: str) -> None:
        self.sidebar.setCurrentRow(list(self.pages).index(key))

    def current_page_key(self) -> str:
        return list(self.pages)[self.sidebar.currentRow()]

    def open_dataset(self, path: str | Path) -> None:
        self.show_page("data")
        self.data_page.open_path(path)

    # --- drops anywhere on the window ---------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt name)
        if dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        path = dropped_path(event.mimeData())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        page = self.pages[self.current_page_key()]
        if hasattr(page, "take_paths"):  # the Predict page predicts what is dropped, it opens no dataset
            page.take_paths([Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()])
        else:
            self.open_dataset(path)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        if self.projects.is_saving() or not self.projects.may_discard("close the window") or not all(
                page.confirm_close() for page in self.pages.values()):
            if self.projects.is_saving():  # "Save" was chosen: close again once the model is on disk
                self.projects.close_when_saved()
            event.ignore()
            return
        settings.save_window(self.saveGeometry(), self.saveState())
        for page in self.pages.values():
            page.shutdown()
        self.projects.slot.cancel()
        self.projects.saver.cancel()
        EngineTask.shutdown_all()
        super().closeEvent(event)
