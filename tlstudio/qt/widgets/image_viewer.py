"""A larger view of one image with what the user needs to judge it: name, size, mode, label, split."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QImageReader, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout

from tlstudio.core.printable import printable

VIEW_SIZE = 448


@dataclass(frozen=True)
class ImageInfo:
    path: Path
    file_bytes: int
    width: int
    height: int
    mode: str  # PIL's mode, e.g. "RGB", "L", "P", "I;16"
    format: str  # e.g. "PNG"


def read_info(path: Path) -> ImageInfo:
    """Header-only facts about an image file (PIL reads lazily)."""
    from PIL import Image

    with Image.open(path) as im:
        return ImageInfo(path, path.stat().st_size, im.width, im.height, im.mode, im.format or "")


class ImageViewerDialog(QDialog):
    def __init__(self, path: Path, label: str, split: str, parent=None):
        super().__init__(parent)
        path = Path(path)
        self.setWindowTitle(printable(path.name))
        self.picture = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(320, 320)
        self.picture.setStyleSheet("background: #20242a; border-radius: 4px;")
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)
        full = reader.size()
        if full.isValid() and max(full.width(), full.height()) > 2 * VIEW_SIZE:
            # A camera photo decodes at a reduced size straight away (JPEG scales in the decoder).
            reader.setScaledSize(full.scaled(2 * VIEW_SIZE, 2 * VIEW_SIZE, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        if image.isNull():
            self.picture.setText(f"Cannot display this file: {reader.errorString()}")
        else:
            pixmap = QPixmap.fromImage(image)
            # Small images (28 px Fashion-MNIST) are enlarged without smoothing so pixels stay visible.
            longest = max(pixmap.width(), pixmap.height())
            target = VIEW_SIZE if longest < VIEW_SIZE else min(longest, VIEW_SIZE)
            mode = Qt.TransformationMode.FastTransformation if longest < VIEW_SIZE / 2 else Qt.TransformationMode.SmoothTransformation
            shown = pixmap.scaled(target, target, Qt.AspectRatioMode.KeepAspectRatio, mode)
            self.picture.setPixmap(shown)
            self.picture.setMinimumSize(shown.size().grownBy(QMargins(8, 8, 8, 8)))

        try:
            info = read_info(path)
            facts = {
                "File": path.name,
                "Folder": str(path.parent),
                "Size": f"{info.file_bytes:,} bytes",
                "Pixels": f"{info.width} × {info.height}",
                "Mode": f"{info.mode} ({info.format})" if info.format else info.mode,
            }
        except OSError as exc:
            facts = {"File": path.name, "Folder": str(path.parent), "Problem": str(exc)}
        facts["Label"] = label
        facts["Split"] = split
        self.facts = facts

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for key, value in facts.items():
            text = QLabel(printable(value))
            text.setTextFormat(Qt.TextFormat.PlainText)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            text.setWordWrap(True)
            form.addRow(f"<b>{key}</b>", text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture, 1)
        layout.addLayout(form)
        layout.addWidget(buttons)
