"""Every file the scan skipped, with its reason: a sortable table that can open the file's folder."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QPushButton, QTableView, QVBoxLayout

from tlstudio.core.printable import printable

COLUMNS = ("File", "Reason", "Detail")


class SkippedFilesDialog(QDialog):
    def __init__(self, skipped, root: Path | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Skipped files ({len(skipped):,})")
        self.resize(900, 460)
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        for entry in skipped:
            path = Path(entry.path)
            shown = _relative(path, root)
            cells = [QStandardItem(printable(shown)), QStandardItem(entry.reason), QStandardItem(printable(entry.detail))]
            cells[0].setData(str(path), Qt.ItemDataRole.UserRole)
            cells[0].setToolTip(printable(path))
            cells[2].setToolTip(printable(entry.detail))
            for cell in cells:
                cell.setEditable(False)
            self.model.appendRow(cells)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(0, 320)
        self.table.doubleClicked.connect(self.open_selected_folder)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)

        self.open_button = QPushButton("Open containing folder")
        self.open_button.clicked.connect(self.open_selected_folder)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        note = QLabel("These files are not used for training. Double-click a row to open its folder.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self._update_buttons()

    def selected_path(self) -> Path | None:
        rows = self.table.selectionModel().selectedRows(0)
        return Path(rows[0].data(Qt.ItemDataRole.UserRole)) if rows else None

    def open_selected_folder(self, *_args) -> bool:
        path = self.selected_path()
        if path is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))

    def _update_buttons(self, *_args) -> None:
        self.open_button.setEnabled(self.selected_path() is not None)


def _relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root if root.is_dir() else root.parent))
        except ValueError:
            pass
    return str(path)
