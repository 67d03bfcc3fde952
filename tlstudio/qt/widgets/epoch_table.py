"""The per-epoch table, with the columns fastai prints after each epoch."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from tlstudio.core.durations import format_duration

KEPT_BACKGROUND = QColor("#dff0d8")



class EpochTable(QTableWidget):
    BASE_COLUMNS = ("stage", "epoch", "train_loss", "valid_loss")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.reset()

    def reset(self) -> None:
        self.setRowCount(0)
        self._metric_names: list[str] = []
        self._global_epochs: list[int] = []
        self._set_columns()

    def _set_columns(self) -> None:
        names = [*self.BASE_COLUMNS, *self._metric_names, "time"]
        self.setColumnCount(len(names))
        self.setHorizontalHeaderLabels(names)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

    def column_names(self) -> list[str]:
        return [self.horizontalHeaderItem(i).text() for i in range(self.columnCount())]

    def add_epoch(self, ev) -> None:
        new = [m for m in ev.metrics if m not in self._metric_names]
        if new:
            self._metric_names += new
            self._set_columns()
        values = {
            "stage": str(ev.stage),
            # The run's epoch, counted from 1: the same number as the plots, the
            # CLI's table and the summary.
            "epoch": str(ev.global_epoch + 1),
            "train_loss": f"{ev.train_loss:.6f}",
            "valid_loss": f"{ev.valid_loss:.6f}",
            "time": format_duration(ev.elapsed_s),
        }
        values.update({m: f"{v:.6f}" for m, v in ev.metrics.items()})
        row = self.rowCount()
        self.insertRow(row)
        for col, name in enumerate(self.column_names()):
            item = QTableWidgetItem(values.get(name, ""))
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(row, col, item)
        self._global_epochs.append(ev.global_epoch)
        self.scrollToBottom()

    def mark_kept(self, global_epoch: int | None) -> None:
        """Highlight the row whose weights the model holds."""
        bold = QFont(self.font())
        bold.setBold(True)
        for row, g in enumerate(self._global_epochs):
            kept = g == global_epoch
            for col in range(self.columnCount()):
                item = self.item(row, col)
                item.setBackground(QBrush(KEPT_BACKGROUND) if kept else QBrush())
                item.setFont(bold if kept else self.font())
                item.setToolTip("the model holds this epoch's weights" if kept else "")

    def row_values(self, row: int) -> dict[str, str]:
        return {name: self.item(row, col).text() for col, name in enumerate(self.column_names())}
