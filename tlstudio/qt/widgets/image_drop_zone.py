"""A framed area that takes image files (or folders of them) dropped on it.

It accepts the drop itself, so image files dropped here never reach the main
window, which treats drops as a new dataset.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
MAX_FILES = 1000  # a dropped folder is read up to this many images


def image_files(paths: list[Path]) -> list[Path]:
    """The image files among `paths`, folders expanded (sorted, at most MAX_FILES)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path)
    return found[:MAX_FILES]


def _local_paths(mime) -> list[Path]:
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


class ImageDropZone(QFrame):
    files_dropped = Signal(list)  # list[Path] of image files

    def __init__(self, text: str = "Drop images here", parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setObjectName("ImageDropZone")
        self.setMinimumHeight(90)
        self._label = QLabel(text, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        layout = QVBoxLayout(self)
        layout.addWidget(self._label)
        self._set_active(False)

    def _set_active(self, active: bool) -> None:
        color, background = ("#2b7bd6", "rgba(43,123,214,0.10)") if active else ("#9aa4ae", "transparent")
        self.setStyleSheet(
            f"#ImageDropZone {{ border: 2px dashed {color}; border-radius: 8px; background: {background}; }}"
        )

    def _wanted(self, event) -> bool:
        paths = _local_paths(event.mimeData())
        return any(p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES for p in paths)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self._wanted(event):
            event.acceptProposedAction()
            self._set_active(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if self._wanted(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._set_active(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        self._set_active(False)
        files = image_files(_local_paths(event.mimeData()))
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        self.files_dropped.emit(files)
