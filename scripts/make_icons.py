"""Render resources/icons/tlstudio.svg as the PNG sizes desktops look for.

    .venv/bin/python scripts/make_icons.py

Writes resources/icons/hicolor/<N>x<N>/apps/tlstudio.png (the freedesktop icon-theme layout
that installer/install-linux.sh copies under ~/.local/share/icons) for N in SIZES. Qt draws the
SVG (Pillow cannot read SVG); Pillow writes the PNGs, optimised, so the committed files only
change when the icon does. Run it again after changing the SVG, and commit the results.
"""
from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "tlstudio.svg"
THEME = ROOT / "resources" / "icons" / "hicolor"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(size: int) -> Image.Image:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(SVG)).render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(data))).convert("RGBA")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - Qt paints only with one
    for size in SIZES:
        target = THEME / f"{size}x{size}" / "apps" / "tlstudio.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        render(size).save(target, optimize=True)
        print(target.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
