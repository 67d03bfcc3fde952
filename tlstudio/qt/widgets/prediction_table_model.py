"""The rows of the Predict page: one per image, and the proxy that sorts them by
confidence and hides those on the wrong side of a threshold.

Predictions carry every class ranked, so the shown k is only a view setting.
Thumbnails are decoded off the GUI thread by ThumbnailLoader, as the gallery's.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import QColor, QPixmap

from tlstudio.qt.widgets.gallery_model import _tile
from tlstudio.qt.widgets.thumbnail_loader import PixmapCache, ThumbnailLoader

IMAGE, TOP_K, ACTUAL = range(3)
PREDICTION_ROLE = Qt.ItemDataRole.UserRole + 1  # the core.export.Prediction of the row
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
REPAINT_MS = 40

SHOW_ALL, SHOW_AT_LEAST, SHOW_BELOW = "all", "at-least", "below"


class PredictionTableModel(QAbstractTableModel):
    def __init__(self, thumb_size: int = 64, parent=None):
        super().__init__(parent)
        self.predictions: list = []
        self.truth: dict[Path, str] = {}
        self.top_k = 3
        self.thumb_size = QSize(thumb_size, thumb_size)
        self.cache = PixmapCache(48 * 1024 * 1024)
        self.loader = ThumbnailLoader(self.thumb_size, self)
        self.loader.ready.connect(self._thumbnails_ready)
        self._arrived: list[int] = []
        self._repaint = QTimer(self, singleShot=True, interval=REPAINT_MS)
        self._repaint.timeout.connect(self._repaint_arrived)
        self.overlays: dict[Path, QPixmap] = {}  # pictures shown instead of thumbnails (Grad-CAM), thumbnail-sized
        self._placeholder = _tile(self.thumb_size, QColor(225, 228, 232))
        self._broken = _tile(self.thumb_size, QColor(244, 199, 195))

    def set_predictions(self, predictions, truth: dict[Path, str]) -> None:
        self.beginResetModel()
        self.loader.reset()
        self.cache.clear()
        self.overlays = {}
        self.predictions = list(predictions)
        self.truth = {Path(k): v for k, v in truth.items()}
        self.endResetModel()

    def set_top_k(self, k: int) -> None:
        self.top_k = max(1, int(k))
        if self.predictions:
            self.dataChanged.emit(self.index(0, TOP_K), self.index(len(self.predictions) - 1, TOP_K))

    def has_truth(self) -> bool:
        return any(Path(p.path) in self.truth for p in self.predictions)

    # -- Qt model -------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt name)
        return 0 if parent.isValid() else len(self.predictions)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else 3

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return ("Image", f"Top {self.top_k} (probability)", "Actual")[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        pred = self.predictions[row]
        path = Path(pred.path)
        if role == PREDICTION_ROLE:
            return pred
        if role == SORT_ROLE:
            if col == IMAGE:
                return path.name.lower()
            if col == TOP_K:
                return -1.0 if pred.prob is None else pred.prob
            return self.actual_text(row)
        if col == IMAGE:
            if role == Qt.ItemDataRole.DisplayRole:
                return path.name
            if role == Qt.ItemDataRole.ToolTipRole:
                return str(path)
            if role == Qt.ItemDataRole.DecorationRole:
                return self._thumbnail(row, path, bool(pred.error))
        if col == TOP_K and role == Qt.ItemDataRole.ToolTipRole:
            return pred.error or "\n".join(f"{label}: {p:.2%}" for label, p in pred.top_k[: self.top_k])
        if col == ACTUAL:
            if role == Qt.ItemDataRole.DisplayRole:
                return self.actual_text(row)
            if role == Qt.ItemDataRole.ForegroundRole and path in self.truth and not pred.error:
                return QColor(26, 127, 55) if pred.label == self.truth[path] else QColor(192, 57, 43)
        return None

    def actual_text(self, row: int) -> str:
        pred = self.predictions[row]
        actual = self.truth.get(Path(pred.path))
        if actual is None:
            return ""
        if pred.error:
            return actual
        return f"{actual}  {'✔' if pred.label == actual else '✘'}"

    def set_overlays(self, overlays: dict) -> None:
        """Show `overlays[path]` instead of each named image's thumbnail; {}: the thumbnails again."""
        side = self.thumb_size.width()
        self.overlays = {Path(p): pix.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation) for p, pix in overlays.items()}
        if self.predictions:
            self.dataChanged.emit(self.index(0, IMAGE), self.index(len(self.predictions) - 1, IMAGE),
                                  [Qt.ItemDataRole.DecorationRole])

    def _thumbnail(self, row: int, path: Path, broken: bool) -> QPixmap:
        if broken:
            return self._broken
        if path in self.overlays:
            return self.overlays[path]
        pixmap = self.cache.get(row)
        if pixmap is None:
            self.loader.request(row, str(path))
            return self._placeholder
        return pixmap

    def _thumbnails_ready(self, batch) -> None:
        for row, image in batch:
            self.cache.put(row, self._broken if image.isNull() else QPixmap.fromImage(image))
            self._arrived.append(row)
        if not self._repaint.isActive():
            self._repaint.start()

    def _repaint_arrived(self) -> None:
        rows = [r for r in self._arrived if r < len(self.predictions)]
        self._arrived.clear()
        if rows:
            self.dataChanged.emit(self.index(min(rows), IMAGE), self.index(max(rows), IMAGE), [Qt.ItemDataRole.DecorationRole])

    def shutdown(self) -> None:
        self._repaint.stop()
        self.loader.shutdown()


class PredictionFilter(QSortFilterProxyModel):
    """Sorts by SORT_ROLE; shows all rows, or those at or above / below the threshold,
    and optionally only one confusion-matrix cell (actual class, predicted class).
    A row without a prediction (its image could not be read) shows only under "all"."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.mode = SHOW_ALL
        self.threshold = 0.5
        self.cell: tuple[str, str] | None = None
        self.setSortRole(SORT_ROLE)

    def set_cell(self, cell: tuple[str, str] | None) -> None:
        if cell != self.cell:
            self.beginFilterChange()
            self.cell = cell
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_filter(self, mode: str, threshold: float) -> None:
        if (mode, threshold) != (self.mode, self.threshold):
            self.beginFilterChange()
            self.mode, self.threshold = mode, float(threshold)
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:  # noqa: N802 (Qt name)
        source = self.sourceModel()
        pred = source.predictions[source_row]
        if self.cell is not None and (source.truth.get(Path(pred.path)), pred.label) != self.cell:
            return False
        if self.mode == SHOW_ALL:
            return True
        prob = pred.prob
        if prob is None:
            return False
        return prob >= self.threshold if self.mode == SHOW_AT_LEAST else prob < self.threshold

