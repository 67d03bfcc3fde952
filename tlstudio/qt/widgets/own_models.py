"""'Your models': the finished runs of the open and recent projects, and the model files
added by hand, each a possible starting point instead of the ImageNet weights.

Listing reads each model's JSON (core/project/model_list.py), never its weights, so
it stays in the window's torch-free process. Added files are remembered in QSettings;
the file dialog is behind `choose_model_file` (-> a path or None), which tests replace.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tlstudio.core.project.model_list import ListedModel, dataset_name, display_label, list_models
from tlstudio.core.printable import printable
from tlstudio.qt import settings

HEADERS = ("Model", "Architecture", "Classes", "Trained on")
SOURCE_ROLE = Qt.ItemDataRole.UserRole


class OwnModels(QWidget):
    chosen = Signal(str)  # the source (a run folder or a .tlsmodel) of the row the user picked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.choose_model_file = self._dialog
        self.models: list[ListedModel] = []
        self._selecting = False
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.empty = QLabel("No models of your own yet: finish a run in a project, or add a .tlsmodel file.",
                            wordWrap=True)
        self.empty.setStyleSheet("color: #555;")
        self.problems = QLabel(wordWrap=True)
        self.problems.setStyleSheet("color: #8a4b00;")
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems.hide()
        self.add_button = QPushButton("Add model file…")
        self.add_button.setToolTip("A .tlsmodel exported from TL Studio: its body and layer groups can start a new run")
        self.add_button.clicked.connect(self.add_file)
        row = QHBoxLayout()
        row.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.empty, 1)
        row.addStretch(0)  # the button keeps its own width when the hint is hidden
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.problems)
        layout.addLayout(row)

    def refresh(self, project_roots) -> None:
        """List the models of `project_roots` and of the added files again, keeping the selection."""
        selected = self.selected_source()
        self.models, problems = list_models(project_roots, settings.own_model_files())
        self._selecting = True
        try:
            self.table.setRowCount(len(self.models))
            for row, listed in enumerate(self.models):
                model = listed.model
                cells = (printable(display_label(model)), model.architecture, str(len(model.classes)),
                         printable(dataset_name(model)))
                tip = "\n".join(printable(t) for t in (model.path, f"trained on {model.trained_on}",
                                                        f"classes: {', '.join(model.classes)}"))
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setToolTip(tip)
                    item.setData(SOURCE_ROLE, listed.source)
                    self.table.setItem(row, column, item)
        finally:
            self._selecting = False
        self.select_source(selected)
        self.empty.setVisible(not self.models)
        self.problems.setText("\n".join(f"Not listed: {printable(p)}" for p in problems))
        self.problems.setVisible(bool(problems))

    def listed(self, source) -> ListedModel | None:
        return next((m for m in self.models if _same(m.source, source)), None)

    def selected_source(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).data(SOURCE_ROLE) if rows else None

    def select_source(self, source) -> None:
        """Show `source` as the chosen row (None: no row); emits nothing."""
        self._selecting = True
        try:
            self.table.clearSelection()
            for row, listed in enumerate(self.models):
                if source is not None and _same(listed.source, source):
                    self.table.selectRow(row)
        finally:
            self._selecting = False

    def add_file(self) -> None:
        path = self.choose_model_file()
        if not path:
            return
        settings.add_own_model_file(path)
        self.chosen.emit(str(Path(path).resolve()))

    def _selection_changed(self) -> None:
        source = self.selected_source()
        if not self._selecting and source is not None:
            self.chosen.emit(source)

    def _dialog(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a model to start from", settings.dialog_folder("model"),
                                              "TL Studio models (*.tlsmodel)")
        if not path:
            return None
        settings.remember_dialog_folder("model", path)
        return path


def _same(a, b) -> bool:
    return Path(a).resolve() == Path(b).resolve()
