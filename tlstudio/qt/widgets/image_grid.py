"""A grid of image tiles with optional captions, fed uint8 (n, H, W, 3) arrays.

The tiles grow with the space the grid gets (a bigger window shows bigger
previews) and shrink to `min_tile`, never below: each picture is drawn scaled
to its tile when painted, so resizing never rebuilds anything.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget


def array_to_pixmap(img: np.ndarray) -> QPixmap:
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape[:2]
    qimg = QImage(img.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimg.copy())  # copy: the QImage must not outlive the array


class _Picture(QWidget):
    """One image, drawn as large as the square it gets, aspect kept."""

    def __init__(self, tile: int, min_tile: int):
        super().__init__()
        self._pixmap = QPixmap()
        self._tile = tile
        self.setMinimumSize(min_tile, min_tile)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(self._tile, self._tile)

    def pixmap(self) -> QPixmap:
        return self._pixmap

    def setPixmap(self, pixmap: QPixmap) -> None:  # noqa: N802 (QLabel's name)
        self._pixmap = pixmap
        self.update()

    def clear(self) -> None:
        self.setPixmap(QPixmap())

    def target(self) -> QRect:
        side = min(self.width(), self.height())
        return QRect((self.width() - side) // 2, (self.height() - side) // 2, side, side)

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        square = self.target()
        painter.fillRect(square, self.palette().color(QPalette.ColorRole.Dark))
        if not self._pixmap.isNull():
            size = self._pixmap.size().scaled(square.size(), Qt.AspectRatioMode.KeepAspectRatio)
            drawn = QRect(0, 0, size.width(), size.height())
            drawn.moveCenter(square.center())
            painter.drawPixmap(drawn, self._pixmap)


class _Tile(QWidget):
    clicked = Signal()

    def __init__(self, tile: int, min_tile: int, caption: bool):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.image = _Picture(tile, min_tile)
        layout.addWidget(self.image, 1)
        self.caption = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.caption.setVisible(caption)
        layout.addWidget(self.caption)

    def mousePressEvent(self, event):  # noqa: N802 (Qt name)
        self.clicked.emit()
        super().mousePressEvent(event)


class ImageGrid(QWidget):
    """rows x cols tiles, `tile` pixels when there is room, never under `min_tile`."""

    tile_clicked = Signal(int)

    def __init__(
        self, rows: int, cols: int, tile: int = 96, captions: bool = False, min_tile: int = 48,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.rows, self.cols, self.tile = rows, cols, tile
        self.images: np.ndarray | None = None
        self.captions: list[str] = []
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        self.tiles: list[_Tile] = []
        for i in range(rows * cols):
            t = _Tile(tile, min_tile, captions)
            t.clicked.connect(lambda i=i: self.tile_clicked.emit(i))
            grid.addWidget(t, i // cols, i % cols)
            self.tiles.append(t)

    def set_images(self, images: np.ndarray, captions: list[str] | None = None) -> None:
        self.images = images
        self.captions = list(captions or [])
        for i, t in enumerate(self.tiles):
            if i < len(images):
                t.image.setPixmap(array_to_pixmap(images[i]))
                t.caption.setText(self.captions[i] if i < len(self.captions) else "")
            else:
                t.image.clear()
                t.caption.clear()

    def clear(self) -> None:
        self.images = None
        for t in self.tiles:
            t.image.clear()
            t.caption.clear()
