"""Predictions as a table: thumbnail and file name, the top-k classes each with a
probability bar, and the true class when the image's folder names it.

Each ranked class gets a line of its own, so nothing is cut off or scrolls
sideways however many classes are shown; the table only scrolls down.
Double-clicking a row opens the image larger, in a window of its own.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QStyledItemDelegate, QTableView, QWidget

from tlstudio.qt.widgets.image_results_gallery import GalleryEntry, ImageViewer
from tlstudio.qt.widgets.prediction_table_model import (
    ACTUAL,
    IMAGE,
    PREDICTION_ROLE,
    TOP_K,
    PredictionFilter,
    PredictionTableModel,
)

LINE_PX = 18  # height of one ranked class
PERCENT_PX = 52  # room for "100.0%"
BAR_COLOR, TOP_BAR_COLOR, ERROR_COLOR = QColor(160, 190, 228), QColor(47, 111, 189), QColor(190, 30, 30)


class TopKDelegate(QStyledItemDelegate):
    """Paints a row's ranked classes: name, a bar as long as the probability, the percentage."""

    def __init__(self, model: PredictionTableModel, parent=None):
        super().__init__(parent)
        self.model = model
        self.label_px = 80

    def paint(self, painter: QPainter, option, index) -> None:
        pred = index.data(PREDICTION_ROLE)
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.color(QPalette.ColorRole.Highlight).lighter(170))
        rect = option.rect.adjusted(6, 4, -6, -4)
        if pred.error:
            painter.setPen(ERROR_COLOR)
            text = pred.error.removeprefix(f"{pred.path}: ")  # the row already names the file
            painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap, text)
            painter.restore()
            return
        text_color = option.palette.color(QPalette.ColorRole.Text)
        label_px = min(self.label_px, int(rect.width() * 0.45))
        bar_left = rect.left() + label_px + 8
        bar_w = max(rect.right() - PERCENT_PX - 6 - bar_left, 10)
        for line, (label, prob) in enumerate(pred.top_k[: self.model.top_k]):
            y = rect.top() + line * LINE_PX
            font = QFont(option.font)
            font.setBold(line == 0)
            painter.setFont(font)
            fm = QFontMetrics(font)
            painter.setPen(text_color)
            name = fm.elidedText(label, Qt.TextElideMode.ElideRight, label_px)
            painter.drawText(QRectF(rect.left(), y, label_px, LINE_PX), Qt.AlignmentFlag.AlignVCenter, name)
            painter.fillRect(QRectF(bar_left, y + 4, bar_w, LINE_PX - 8), QColor(232, 235, 239))
            painter.fillRect(QRectF(bar_left, y + 4, bar_w * prob, LINE_PX - 8), TOP_BAR_COLOR if line == 0 else BAR_COLOR)
            painter.drawText(
                QRectF(bar_left + bar_w + 6, y, PERCENT_PX, LINE_PX),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{prob:.1%}",
            )
        painter.restore()

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 (Qt name)
        return QSize(self.label_px + 8 + 120 + PERCENT_PX, self.model.top_k * LINE_PX + 8)


class PredictionTable(QTableView):
    def __init__(self, thumb_size: int = 64, parent: QWidget | None = None):
        super().__init__(parent)
        self.source = PredictionTableModel(thumb_size, self)
        self.proxy = PredictionFilter(self)
        self.proxy.setSourceModel(self.source)
        self.setModel(self.proxy)
        self.delegate = TopKDelegate(self.source, self)
        self.setItemDelegateForColumn(TOP_K, self.delegate)
        self.setIconSize(QSize(thumb_size, thumb_size))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long name keeps its start and its suffix
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # input order until asked
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(IMAGE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(TOP_K, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(ACTUAL, QHeaderView.ResizeMode.ResizeToContents)
        self.setColumnWidth(IMAGE, 200)
        self._thumb = thumb_size
        self.viewers: list[ImageViewer] = []  # open larger views, kept referenced while shown
        self.doubleClicked.connect(self._open_row)
        self._fit_rows()

    def set_predictions(self, predictions, truth) -> None:
        self.source.set_predictions(predictions, truth)
        fm = QFontMetrics(self._bold_font())
        labels = {label for p in predictions for label, _ in p.top_k}
        self.delegate.label_px = max((fm.horizontalAdvance(label) for label in labels), default=60) + 4
        self.setColumnHidden(ACTUAL, not self.source.has_truth())
        self._fit_rows()

    def set_top_k(self, k: int) -> None:
        self.source.set_top_k(k)
        self.source.headerDataChanged.emit(Qt.Orientation.Horizontal, TOP_K, TOP_K)
        self._fit_rows()

    def set_filter(self, mode: str, threshold: float) -> None:
        self.proxy.set_filter(mode, threshold)

    def set_cell(self, cell: tuple[str, str] | None) -> None:
        """Only the images of one confusion-matrix cell (actual, predicted), or all again (None)."""
        self.proxy.set_cell(cell)

    def sort_by_confidence(self, order: Qt.SortOrder | None) -> None:
        """Most or least confident first, or back to the order the images were given in (None)."""
        if order is None:
            self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        else:
            self.sortByColumn(TOP_K, order)

    def selected_paths(self) -> list:
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        return [self.proxy.index(r, 0).data(PREDICTION_ROLE).path for r in rows]

    def paths(self) -> list:
        """The images shown (filtered, sorted), less those that could not be read."""
        return [p.path for p in self.shown_predictions() if not p.error]

    def set_overlays(self, overlays: dict) -> None:
        self.source.set_overlays(overlays)

    def shown_predictions(self) -> list:
        return [self.proxy.index(r, 0).data(PREDICTION_ROLE) for r in range(self.proxy.rowCount())]

    def empty_text(self) -> str:
        """What the empty table says: why there is nothing to show ('' when rows are shown)."""
        if self.proxy.rowCount():
            return ""
        if self.source.rowCount():
            return "No image matches this filter."
        return "No predictions yet: drop images or a folder of images on this page."

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().paintEvent(event)
        text = self.empty_text()
        if text:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(self.viewport().rect().adjusted(12, 12, -12, -12), flags, text)
            painter.end()

    def _open_row(self, index) -> None:
        pred = index.data(PREDICTION_ROLE)
        caption = pred.error or "   ".join(f"{label} {p:.1%}" for label, p in pred.top_k[: self.source.top_k])
        self.viewers = [v for v in self.viewers if v.isVisible()]
        viewer = ImageViewer(GalleryEntry(pred.path, caption), self.window())
        self.viewers.append(viewer)
        viewer.show()

    def _fit_rows(self) -> None:
        rows = self.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(max(self._thumb + 8, self.source.top_k * LINE_PX + 8))

    def _bold_font(self) -> QFont:
        font = QFont(self.font())
        font.setBold(True)
        return font

    def shutdown(self) -> None:
        self.source.shutdown()
