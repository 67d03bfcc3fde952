"""Predictions for a list of images: thumbnail, label with probability, top-k, or the error."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from tlstudio.qt.widgets.image_results_gallery import load_thumbnail, placeholder

COLUMNS = ("Image", "Prediction", "Top 3")
PATH_ROLE = Qt.ItemDataRole.UserRole


def top_k_text(top_k) -> str:
    return "   ".join(f"{label} {prob:.0%}" for label, prob in top_k)


class PredictionList(QTreeWidget):
    def __init__(self, thumb_size: int = 56, parent: QWidget | None = None):
        super().__init__(parent)
        self.thumb_size = thumb_size
        self.setColumnCount(len(COLUMNS))
        self.setHeaderLabels(COLUMNS)
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setIconSize(QSize(thumb_size, thumb_size))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.header()
        # As wide as the thumbnails and names need, no wider: a fixed 240 px pushed the top-k off the side at 1024 px.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        # Wide enough for every top-k value (a scroll bar rather than "…").
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)

    def add_predictions(self, predictions) -> None:
        """Appends one row per prediction (anything with path, label, prob, top_k, error)."""
        for pred in predictions:
            path = Path(pred.path)
            item = QTreeWidgetItem()
            item.setText(0, path.name)
            item.setToolTip(0, str(path))
            item.setData(0, PATH_ROLE, str(path))
            pix = load_thumbnail(path, self.thumb_size) if not pred.error else None
            item.setIcon(0, QIcon(pix) if pix is not None else placeholder(self.thumb_size, "#f4c7c3"))
            if pred.error:
                error = pred.error.removeprefix(f"{path}: ")  # the row already names the file
                item.setText(1, "Error")
                item.setText(2, error)
                item.setToolTip(2, pred.error)
                for col in (1, 2):
                    item.setForeground(col, QColor(190, 30, 30))
            else:
                item.setText(1, f"{pred.label}  {pred.prob:.1%}")
                item.setText(2, top_k_text(pred.top_k))
                item.setToolTip(2, item.text(2))
                font = item.font(1)
                font.setBold(True)
                item.setFont(1, font)
            self.addTopLevelItem(item)
        if predictions:
            self.scrollToItem(self.topLevelItem(self.topLevelItemCount() - 1))

    def rows(self) -> list[tuple[str, str, str]]:
        """(file name, prediction, top-k or error) per row, for tests and copying."""
        return [tuple(self.topLevelItem(r).text(c) for c in range(3)) for r in range(self.topLevelItemCount())]
