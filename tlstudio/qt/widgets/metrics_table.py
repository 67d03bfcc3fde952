"""Per-class precision, recall, F1 and support in a sortable table.

The macro and weighted averages stay pinned below the classes whichever
column is sorted and in whichever direction.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

COLUMNS = ("Class", "Precision", "Recall", "F1", "Support")
SORT_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class MetricsRow:
    name: str
    precision: float
    recall: float
    f1: float
    support: int
    pinned: bool = False  # an average row: always listed after the classes

    def values(self) -> tuple:
        return (self.name, self.precision, self.recall, self.f1, self.support)


class MetricsModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[MetricsRow] = []

    def set_rows(self, rows: list[MetricsRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt name)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        value = row.values()[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            if isinstance(value, float):
                return f"{value:.3f}"
            return str(value)
        if role == SORT_ROLE:
            return value
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and row.pinned:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0:
            return row.name
        return None


class PinnedLastProxy(QSortFilterProxyModel):
    """Sorts the classes; pinned rows stay at the bottom in their own order."""

    def lessThan(self, left: QModelIndex, right: QModelIndex) -> bool:  # noqa: N802
        rows = self.sourceModel().rows
        a, b = rows[left.row()], rows[right.row()]
        ascending = self.sortOrder() == Qt.SortOrder.AscendingOrder
        if a.pinned or b.pinned:
            if a.pinned and b.pinned:
                # Qt reverses the result for descending order; keep source order either way.
                return (left.row() < right.row()) == ascending
            return b.pinned == ascending
        x, y = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if isinstance(x, str):
            return x.lower() < y.lower()
        return x < y


class MetricsTable(QTableView):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.metrics_model = MetricsModel(self)
        self.proxy = PinnedLastProxy(self)
        self.proxy.setSourceModel(self.metrics_model)
        self.proxy.setSortRole(SORT_ROLE)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)

    def set_rows(self, rows: list[MetricsRow]) -> None:
        self.metrics_model.set_rows(rows)

    def displayed_rows(self) -> list[MetricsRow]:
        """The rows in the order shown, after sorting."""
        return [self.metrics_model.rows[self.proxy.mapToSource(self.proxy.index(r, 0)).row()] for r in range(self.proxy.rowCount())]
