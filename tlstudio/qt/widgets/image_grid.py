"""A fixed grid of image tiles with optional captions, fed uint8 (n, H, W, 3) arrays."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget


def array_to_pixmap(img: np.ndarray) -> QPixmap:
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape[:2]
    qimg = QImage(img.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimg.copy())  # copy: the QImage must not outlive the array


class _Tile(QWidget):
    clicked = Signal()

    def __init__(self, tile: int, caption: bool):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image.setFixedSize(tile, tile)
        self.image.setStyleSheet("background: palette(dark); border-radius: 3px;")
        layout.addWidget(self.image)
        self.caption = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.caption.setMaximumWidth(tile)
        self.caption.setVisible(caption)
        layout.addWidget(self.caption)

    def mousePressEvent(self, event):  # noqa: N802 (Qt name)
        self.clicked.emit()
        super().mousePressEvent(event)


class ImageGrid(QWidget):
    """rows x cols tiles of `tile` pixels; `set_images` scales each image to fit."""

    tile_clicked = Signal(int)

    def __init__(self, rows: int, cols: int, tile: int = 96, captions: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows, self.cols, self.tile = rows, cols, tile
        self.images: np.ndarray | None = None
        self.captions: list[str] = []
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        self.tiles: list[_Tile] = []
        for i in range(rows * cols):
            t = _Tile(tile, captions)
            t.clicked.connect(lambda i=i: self.tile_clicked.emit(i))
            grid.addWidget(t, i // cols, i % cols)
            self.tiles.append(t)

    def set_images(self, images: np.ndarray, captions: list[str] | None = None) -> None:
        self.images = images
        self.captions = list(captions or [])
        for i, t in enumerate(self.tiles):
            if i < len(images):
                pix = array_to_pixmap(images[i]).scaled(
                    self.tile, self.tile, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
                t.image.setPixmap(pix)
                t.caption.setText(self.captions[i] if i < len(self.captions) else "")
            else:
                t.image.clear()
                t.caption.clear()

    def clear(self) -> None:
        self.images = None
        for t in self.tiles:
            t.image.clear()
            t.caption.clear()
