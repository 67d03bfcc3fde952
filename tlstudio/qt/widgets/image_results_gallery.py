"""A gallery of image thumbnails, each with a few lines of caption.

Thumbnails load a few at a time from a timer, so a gallery of hundreds of
images opens at once and the window stays responsive. Double-clicking an
image opens a larger view in a separate, non-blocking window.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QListView, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

PATH_ROLE = Qt.ItemDataRole.UserRole
_THUMBS_PER_TICK = 12


@dataclass(frozen=True)
class GalleryEntry:
    path: Path
    caption: str  # short lines under the thumbnail
    tooltip: str = ""
    warn: bool = False  # draw the caption in a warning colour (a wrong prediction)


def load_thumbnail(path: Path, side: int) -> QPixmap | None:
    """A scaled pixmap decoded at (about) the size shown, or None for an unreadable file."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid():  # small images are scaled up too, so every thumbnail has the same size
        reader.setScaledSize(size.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return None
    return QPixmap.fromImage(image)


def placeholder(side: int, color: str = "#e6e6e6") -> QIcon:
    pix = QPixmap(side, side)
    pix.fill(QColor(color))
    return QIcon(pix)


class ImageResultsGallery(QListWidget):
    entry_activated = Signal(object)  # GalleryEntry, on double-click

    def __init__(self, thumb_size: int = 96, parent: QWidget | None = None):
        super().__init__(parent)
        self.thumb_size = thumb_size
        self.entries: list[GalleryEntry] = []
        self._pending: list[int] = []
        self.viewers: list[QDialog] = []  # open larger views, kept referenced while shown
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWordWrap(False)  # captions break at their own newlines; a long line is elided, not wrapped
        self.setSpacing(4)
        self.setIconSize(QSize(thumb_size, thumb_size))
        self._fit_grid([])
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)  # select several to relabel or exclude
        self.overlays: dict[Path, QPixmap] = {}  # thumbnails replaced by a picture of their own (Grad-CAM)
        self._timer = QTimer(self, interval=0)
        self._timer.timeout.connect(self._load_some)
        self.itemDoubleClicked.connect(self._open_item)

    def _fit_grid(self, entries: list[GalleryEntry]) -> None:
        """Cells wide enough for the longest caption line (within reason) and three lines tall."""
        fm = self.fontMetrics()
        widest = max((fm.horizontalAdvance(line) for e in entries for line in e.caption.splitlines()), default=0)
        width = min(max(self.thumb_size + 48, widest + 32), 2 * self.thumb_size + 64)
        self.setGridSize(QSize(width, self.thumb_size + 3 * fm.height() + 14))

    def set_entries(self, entries: list[GalleryEntry]) -> None:
        self.clear()
        self.overlays = {}
        self.entries = list(entries)
        self._fit_grid(self.entries)
        blank = placeholder(self.thumb_size)
        for entry in self.entries:
            item = QListWidgetItem(blank, entry.caption)
            item.setData(PATH_ROLE, str(entry.path))
            item.setToolTip(entry.tooltip or str(entry.path))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            if entry.warn:
                item.setForeground(QColor(190, 30, 30))
            self.addItem(item)
        self._pending = list(range(len(self.entries)))
        if self._pending:
            self._timer.start()

    def paths(self) -> list[Path]:
        return [e.path for e in self.entries]

    def selected_paths(self) -> list[Path]:
        return [self.entries[self.row(item)].path for item in self.selectedItems()]

    def mark_edited(self, edits) -> None:
        """Tint the images `edits` (a DatasetEdits) relabels or excludes, and say how in their tooltips."""
        for row, entry in enumerate(self.entries):
            item = self.item(row)
            note = ("Excluded from the next training run" if entry.path in edits.excluded else
                    f"Relabelled '{edits.relabelled[entry.path]}' for the next training run"
                    if entry.path in edits.relabelled else "")
            item.setBackground(QColor(255, 236, 179) if note else QColor(0, 0, 0, 0))
            item.setToolTip(f"{note}\n{entry.tooltip or entry.path}" if note else entry.tooltip or str(entry.path))

    def set_overlays(self, overlays: dict) -> None:
        """Show `overlays[path]` instead of the thumbnail of each image it names; {}: the thumbnails again."""
        had = set(self.overlays)
        self.overlays = {Path(p): pix for p, pix in overlays.items()}
        for row, entry in enumerate(self.entries):
            item = self.item(row)
            if entry.path in self.overlays:
                item.setIcon(QIcon(self.overlays[entry.path].scaled(
                    self.thumb_size, self.thumb_size, Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation)))
            elif entry.path in had and row not in self._pending:
                self._pending.append(row)
        if self._pending:
            self._timer.start()

    def thumbnails_pending(self) -> int:
        return len(self._pending)

    def _load_some(self) -> None:
        batch, self._pending = self._pending[:_THUMBS_PER_TICK], self._pending[_THUMBS_PER_TICK:]
        for row in batch:
            item = self.item(row)
            if item is None or self.entries[row].path in self.overlays:
                continue
            pix = load_thumbnail(self.entries[row].path, self.thumb_size)
            item.setIcon(QIcon(pix) if pix is not None else placeholder(self.thumb_size, "#f4c7c3"))
        if not self._pending:
            self._timer.stop()

    def _open_item(self, item: QListWidgetItem) -> None:
        entry = self.entries[self.row(item)]
        self.entry_activated.emit(entry)
        self.viewers = [v for v in self.viewers if v.isVisible()]
        viewer = ImageViewer(entry, self.window())
        self.viewers.append(viewer)
        viewer.show()


class ImageViewer(QDialog):
    """One image, larger, with its caption: a non-modal window."""

    def __init__(self, entry: GalleryEntry, parent: QWidget | None = None, side: int = 512):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle(entry.path.name)
        layout = QVBoxLayout(self)
        picture = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        pix = load_thumbnail(entry.path, side)
        if pix is None:
            picture.setText(f"Could not read {entry.path}")
        else:
            picture.setPixmap(pix)
        caption = QLabel(f"{entry.caption}\n{entry.path}", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(picture, 1)
        layout.addWidget(caption)
