"""Predictions for a list of images: thumbnail, label with probability, top-k, or the error."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from tlstudio.qt.widgets.image_results_gallery import load_thumbnail, placeholder
from tlstudio.qt.widgets.wrapping_delegate import PAD, WrapAnywhereDelegate

COLUMNS = ("Image", "Prediction", "Top 3")
PATH_ROLE = Qt.ItemDataRole.UserRole
MIN_NAME_WIDTH = 64  # px of file name beside the thumbnail


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
        # The panel beside the export is narrow (about 270 px at 1024): every column fits the
        # view and wraps its text in full, instead of the top-k scrolling off the side.
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.wrap = WrapAnywhereDelegate(self, *range(len(COLUMNS)))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self.fit_columns()

    def fit_columns(self) -> None:
        """Each column as wide as its widest text needs, while the three fit the view; what
        does not fit wraps."""
        width = self.viewport().width()
        metrics, pad = self.fontMetrics(), 4 * PAD
        widest = [metrics.horizontalAdvance(COLUMNS[c]) + pad for c in range(len(COLUMNS))]
        pair = widest[2]  # the widest "label NN%" of a top-k, which should not break
        for r in range(self.topLevelItemCount()):
            item = self.topLevelItem(r)
            for c in range(len(COLUMNS)):
                widest[c] = max(widest[c], metrics.horizontalAdvance(item.text(c)) + pad)
            if item.text(1) != "Error":
                pair = max([pair] + [metrics.horizontalAdvance(p) + pad for p in item.text(2).split("   ")])
        widest[0] += self.thumb_size + 2 * PAD
        prediction = min(widest[1], int(width * 0.3))
        # The names take what the predictions leave, but never less than 30% of the view, nor
        # too little beside the thumbnail for a few letters a line.
        image = min(widest[0], max(width - prediction - min(pair, int(width * 0.35)), int(width * 0.3),
                                   self.thumb_size + 2 * PAD + MIN_NAME_WIDTH))
        self.setColumnWidth(0, image)
        self.setColumnWidth(1, prediction)
        self.setColumnWidth(2, max(40, width - image - prediction))

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
            self.fit_columns()
            self.scrollToItem(self.topLevelItem(self.topLevelItemCount() - 1))

    def rows(self) -> list[tuple[str, str, str]]:
        """(file name, prediction, top-k or error) per row, for tests and copying."""
        return [tuple(self.topLevelItem(r).text(c) for c in range(3)) for r in range(self.topLevelItemCount())]
