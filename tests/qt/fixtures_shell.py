"""Tiny real datasets in every layout the window opens, and a simulated file-manager drop."""
from __future__ import annotations

import csv
import zipfile
from pathlib import Path


CLASSES = ("cat", "dog", "fox")


def write_images(folder: Path, n: int, color: tuple[int, int, int], size: int = 32) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"img_{i:02d}.png"
        shade = tuple(min(255, c + 9 * i) for c in color)
        Image.new("RGB", (size, size), shade).save(path)
        paths.append(path)
    return paths


COLORS = {"cat": (200, 60, 40), "dog": (40, 160, 60), "fox": (40, 70, 200)}


def make_dataset(root: Path, layout: str, per_class: int = 6) -> Path:
    """A tiny real dataset in one of the layouts the app opens; returns the path to drop."""
    if layout == "class-folders":
        for name in CLASSES:
            write_images(root / "pets" / name, per_class, COLORS[name])
        return root / "pets"
    if layout == "split-folders":
        for split, n in (("train", per_class), ("valid", 2)):
            for name in CLASSES:
                write_images(root / "pets" / split / name, n, COLORS[name])
        return root / "pets"
    if layout == "csv":
        rows = []
        for name in CLASSES:
            for path in write_images(root / "pets" / "images" / name, per_class, COLORS[name]):
                rows.append((path.relative_to(root / "pets").as_posix(), name))
        csv_path = root / "pets" / "labels.csv"
        with csv_path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["file", "label"])
            writer.writerows(rows)
        return csv_path
    if layout == "zip":
        folder = make_dataset(root / "src", "class-folders", per_class)
        zip_path = root / "pets.zip"
        with zipfile.ZipFile(zip_path, "w") as z:
            for path in sorted(folder.rglob("*.png")):
                z.write(path, path.relative_to(folder.parent).as_posix())
        return zip_path
    raise ValueError(layout)


def drop(window, path: Path, target=None) -> bool:
    """Drag `path` over `target` (default: the window) and drop it, as a file manager would.

    Qt hands drag events up from the widget under the cursor to the first
    parent that accepts drops, so any widget of the window can be the target.
    True when the drop was accepted.
    """
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    target = target or window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPoint(target.width() // 2, target.height() // 2)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, event)
    return event.isAccepted()
