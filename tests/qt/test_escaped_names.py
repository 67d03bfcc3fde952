"""File and class names with control characters are shown escaped in the window, as the CLI shows them."""
from __future__ import annotations

from core.broken_files import make_class_folders
from core.source_digest import digest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from tlstudio.core.dataset.scan import scan
from tlstudio.qt.widgets.dataset_summary import DatasetSummary
from tlstudio.qt.widgets.gallery_model import ITEM_ROLE, GalleryModel
from tlstudio.qt.widgets.image_viewer import ImageViewerDialog
from tlstudio.qt.widgets.skipped_table import SkippedFilesDialog


def test_labels_tables_and_titles_escape_control_characters(qtbot, tmp_path, artifacts_dir):
    data = make_class_folders(tmp_path / "data\x1b[2J", {"cats": 3, "dogs\nforged line": 3})
    bad = data / "cats" / "notes\r\nok.txt"
    bad.write_text("x")
    odd = data / "cats" / "odd\tname.png"
    odd.write_bytes((data / "cats" / "cats_000.png").read_bytes())
    before = digest(tmp_path)
    spec = scan(data)

    summary = DatasetSummary()
    qtbot.addWidget(summary)
    summary.set_spec(spec)
    assert summary.title.text() == "data\\033[2J" and "\x1b" not in summary.source.text()
    dialog = SkippedFilesDialog(spec.skipped, spec.root)
    qtbot.addWidget(dialog)
    cells = [dialog.model.item(0, c).text() for c in range(3)]
    assert cells == ["cats/notes\\r\\nok.txt", "not-an-image", "'notes\\r\\nok.txt' is not an image file"]
    assert dialog.model.item(0, 0).data(Qt.ItemDataRole.UserRole) == str(bad)  # opening the folder uses the real path
    dialog.grab().save(str(artifacts_dir / "skipped_escaped.png"))

    gallery = GalleryModel()
    gallery.set_spec(spec)
    tips = {}
    for row in range(gallery.rowCount()):
        item = gallery.index(row).data(ITEM_ROLE)
        tips[item] = (gallery.index(row).data(Qt.ItemDataRole.DisplayRole),
                      gallery.index(row).data(Qt.ItemDataRole.ToolTipRole))
    dog = spec.labels.index("dogs\nforged line")
    odd_item = spec.items.index(odd)
    assert tips[dog][1] == spec.items[dog].name.replace("\n", "\\n") + f"\ndogs\\nforged line · {spec.splits[dog]}"
    assert tips[odd_item][0] == "odd\\tname.png"
    gallery.shutdown()

    viewer = ImageViewerDialog(odd, "dogs\nforged line", "train")
    qtbot.addWidget(viewer)
    assert viewer.windowTitle() == "odd\\tname.png"
    shown = [label.text() for label in viewer.findChildren(QLabel)]
    assert "dogs\\nforged line" in shown and "odd\\tname.png" in shown
    assert not any("\n" in text or "\t" in text for text in shown)
    assert digest(tmp_path) == before
