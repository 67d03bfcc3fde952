"""Predictions for a list of images: thumbnail, label with probability, top-k, or the error."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from tlstudio.qt.widgets.image_results_gallery import load_thumbnail, placeholder
from tlstudio.qt.widgets.wrapping_delegate import MIN_WIDTH, PAD, WrapAnywhereDelegate

COLUMNS = ("Image", "Prediction", "Top 3")
PATH_ROLE = Qt.ItemDataRole.UserRole
MIN_NAME_WIDTH = 56  # px of file name beside the thumbnail
ERROR = "Error"


def top_k_text(top_k) -> str:
    """One "label NN%" a line: in a narrow panel a line never breaks inside a pair."""
    return "\n".join(f"{label} {prob:.0%}" for label, prob in top_k)


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
        """The three columns fit the view: each starts at the least it can take without breaking
        a word (a "label NN%" line of the top k counts as one), then the top k, the prediction and
        the name get what they need for whole lines, in that order; the rest wraps."""
        least, full = self._widths()
        view = self.viewport().width()
        # Narrower still: the names wrap in less, down to the delegate's least line.
        least[0] = max(self.thumb_size + 2 * PAD + MIN_WIDTH + 2 * PAD, min(least[0], view - least[1] - least[2]))
        widths, spare = list(least), view - sum(least)
        for column in (2, 1, 0):
            extra = min(max(spare, 0), full[column] - widths[column])
            widths[column] += extra
            spare -= extra
        for column, width in enumerate(widths):  # the last column also takes what is left
            self.setColumnWidth(column, width)

    def _widths(self) -> tuple[list[int], list[int]]:
        metrics, pad = self.fontMetrics(), 2 * PAD + 2  # the delegate's margins, and a little air

        def line(text: str) -> int:
            return max((metrics.horizontalAdvance(t) for t in text.splitlines()), default=0) + pad

        def word(text: str) -> int:
            return max((metrics.horizontalAdvance(t) for t in text.split()), default=0) + pad

        least = [metrics.horizontalAdvance(h) + pad for h in COLUMNS]  # headers stay whole
        full = list(least)
        icon = self.thumb_size + 2 * PAD
        for r in range(self.topLevelItemCount()):
            name, prediction, top = (self.topLevelItem(r).text(c) for c in range(3))
            least[0] = max(least[0], icon + min(line(name), MIN_NAME_WIDTH + pad))
            full[0] = max(full[0], icon + line(name))
            least[1], full[1] = max(least[1], word(prediction)), max(full[1], line(prediction))
            errored = prediction == ERROR
            least[2], full[2] = max(least[2], word(top) if errored else line(top)), max(full[2], line(top))
        return least, full

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
                item.setText(1, ERROR)
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
