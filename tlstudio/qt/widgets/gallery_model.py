"""Every image of a dataset as one list model: filter by class and split, search by name.

Rows are indices into the DatasetSpec; nothing per image is built until a row
is painted, so 70,000 images cost a few lists of ints and names. The model is
a QStringListModel of the shown file names so that `rowCount` and `index`,
which a QListView calls thousands of times per repaint, stay in C++; only
`data` is Python.
"""
from __future__ import annotations

import os

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap

from tlstudio.core.printable import printable

from tlstudio.qt.widgets.thumbnail_loader import PixmapCache, ThumbnailLoader

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
LABEL_ROLE = Qt.ItemDataRole.UserRole + 2
SPLIT_ROLE = Qt.ItemDataRole.UserRole + 3
ITEM_ROLE = Qt.ItemDataRole.UserRole + 4  # index into the spec's items
LOADED_ROLE = Qt.ItemDataRole.UserRole + 5  # True once the real thumbnail is in the cache


REPAINT_MS = 40  # arriving thumbnails are painted together, at most 25 times a second

# Roles the item delegate asks for on every paint that this model leaves to the style.
_UNUSED_ROLES = frozenset(
    int(r) for r in (
        Qt.ItemDataRole.FontRole, Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.CheckStateRole, Qt.ItemDataRole.SizeHintRole,
    )
)


class GalleryModel(QStringListModel):
    filter_changed = Signal(int, int)  # rows shown, images in the dataset

    def __init__(self, thumb_size: QSize = QSize(96, 96), parent=None, cache_bytes: int = 96 * 1024 * 1024):
        super().__init__(parent)
        self.thumb_size = QSize(thumb_size)
        self.spec = None
        self._lower: list[str] | None = None  # lower-case file names, built on the first search
        self._rows: list[int] = []
        self._row_of: dict[int, int] | None = None  # item -> row, built on first need
        self.label = self.split = None
        self.search = ""
        self.cache = PixmapCache(cache_bytes)
        self.loader = ThumbnailLoader(self.thumb_size, self)
        self.loader.ready.connect(self._thumbnails_ready)
        self._arrived: list[int] = []
        self._repaint = QTimer(self, singleShot=True, interval=REPAINT_MS)
        self._repaint.timeout.connect(self._repaint_arrived)
        self._placeholder = _tile(self.thumb_size, QColor(225, 228, 232))
        self._broken = _tile(self.thumb_size, QColor(240, 200, 200))

    # --- the dataset and the filter ---------------------------------------
    def set_spec(self, spec) -> None:
        self.loader.reset()
        self.cache.clear()
        self.spec = spec
        self._lower = None
        self.label = self.split = None
        self.search = ""
        self._show(self._matching_rows())

    def set_filter(self, *, label: str | None = None, split: str | None = None, search: str = "") -> None:
        search = search.strip().lower()
        if (label, split, search) == (self.label, self.split, self.search):
            return
        self.loader.retain(set())
        self.label, self.split, self.search = label, split, search
        self._show(self._matching_rows())

    def _show(self, rows: list[int]) -> None:
        self._rows = rows
        self._row_of = None
        # The strings only size the C++ list; names come from `data`, read from the spec per painted row.
        self.setStringList([""] * len(rows))  # resets the model
        self.filter_changed.emit(len(rows), self.total)

    @property
    def total(self) -> int:
        return 0 if self.spec is None else len(self.spec.items)

    def _matching_rows(self) -> list[int]:
        spec = self.spec
        if spec is None:
            return []
        rows = range(len(spec.items))
        if self.label is not None:
            rows = [i for i in rows if spec.labels[i] == self.label]
        if self.split is not None:
            rows = [i for i in rows if spec.splits[i] == self.split]
        if self.search:
            if self._lower is None:
                self._lower = [os.path.basename(os.fspath(p)).lower() for p in spec.items]
            lower, text = self._lower, self.search
            rows = [i for i in rows if text in lower[i]]
        return list(rows)

    def item_index(self, row: int) -> int:
        return self._rows[row]

    def row_of_item(self, item: int) -> int | None:
        if self._row_of is None:
            self._row_of = {item: row for row, item in enumerate(self._rows)}
        return self._row_of.get(item)

    def keep_only(self, first_row: int, last_row: int) -> None:
        """Cancel thumbnail requests outside the rows on screen."""
        last_row = min(last_row, len(self._rows) - 1)
        self.loader.retain({self._rows[r] for r in range(max(0, first_row), last_row + 1)})

    # --- Qt model ------------------------------------------------------------
    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if role in _UNUSED_ROLES or not index.isValid() or self.spec is None:
            return None
        item = self._rows[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self.cache.get(item)
            if pixmap is None:
                self.loader.request(item, str(self.spec.items[item]))
                return self._placeholder
            return pixmap
        if role == Qt.ItemDataRole.DisplayRole:
            return printable(self.spec.items[item].name)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{printable(self.spec.items[item].name)}\n{printable(self.spec.labels[item])} · {self.spec.splits[item]}"
        if role == PATH_ROLE:
            return self.spec.items[item]
        if role == LABEL_ROLE:
            return self.spec.labels[item]
        if role == SPLIT_ROLE:
            return self.spec.splits[item]
        if role == ITEM_ROLE:
            return item
        if role == LOADED_ROLE:
            return item in self.cache
        return None

    def _thumbnails_ready(self, batch) -> None:
        for item, image in batch:
            self.cache.put(item, self._broken if image.isNull() else QPixmap.fromImage(image))
            self._arrived.append(item)
        if not self._repaint.isActive():
            self._repaint.start()

    def _repaint_arrived(self) -> None:
        # One update for everything that arrived since the last one: the rows of a screen are close together.
        rows = [r for r in map(self.row_of_item, self._arrived) if r is not None]
        self._arrived.clear()
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)), [Qt.ItemDataRole.DecorationRole])

    def shutdown(self) -> None:
        self._repaint.stop()
        self.loader.shutdown()


def _tile(size: QSize, color: QColor) -> QPixmap:
    pixmap = QPixmap(size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawRoundedRect(pixmap.rect().adjusted(4, 4, -4, -4), 6, 6)
    painter.end()
    return pixmap
