"""The gallery: filters and search over every image, thumbnails from the pool, the cache, the viewer."""
from __future__ import annotations

import threading

from PySide6.QtCore import QEvent, QPointF, QRunnable, QSize, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPixmap
from PySide6.QtWidgets import QApplication

from tlstudio.qt.widgets.gallery_model import ITEM_ROLE, LOADED_ROLE, GalleryModel
from tlstudio.qt.widgets.gallery_view import Gallery
from tlstudio.qt.widgets.thumbnail_loader import PixmapCache, ThumbnailLoader


def test_filters_and_search_count_the_right_rows(qtbot, demo_spec):
    model = GalleryModel()
    model.set_spec(demo_spec)
    assert model.rowCount() == len(demo_spec) == 600
    for label in demo_spec.classes[:3]:
        model.set_filter(label=label)
        assert model.rowCount() == demo_spec.class_counts()[label] == 60
        assert {model.index(r).data(ITEM_ROLE) for r in range(model.rowCount())} == {
            i for i, l in enumerate(demo_spec.labels) if l == label
        }
    for split, n in demo_spec.split_counts().items():
        model.set_filter(split=split)
        assert model.rowCount() == n
    label = demo_spec.classes[0]
    model.set_filter(label=label, split="valid")
    assert model.rowCount() == demo_spec.class_counts("valid")[label] > 0
    name = demo_spec.items[7].name
    model.set_filter(search=name.upper())
    assert [model.index(r).data(ITEM_ROLE) for r in range(model.rowCount())] == [
        i for i, p in enumerate(demo_spec.items) if name.lower() in p.name.lower()
    ]
    model.set_filter(search="no such file")
    assert model.rowCount() == 0
    model.shutdown()


def test_gallery_widgets_filter_and_count(qtbot, demo_spec):
    gallery = Gallery()
    qtbot.addWidget(gallery)
    gallery.set_spec(demo_spec)
    assert gallery.count_label.text() == "Showing 600 of 600"
    gallery.class_box.setCurrentText(demo_spec.classes[1])
    assert gallery.count_label.text() == "Showing 60 of 600"
    gallery.split_box.setCurrentText("train")
    assert gallery.count_label.text() == f"Showing {demo_spec.class_counts('train')[demo_spec.classes[1]]} of 600"
    gallery.class_box.setCurrentIndex(0)
    gallery.split_box.setCurrentIndex(0)
    qtbot.keyClicks(gallery.search, demo_spec.items[0].stem)
    assert gallery.count_label.text() == "Showing 600 of 600"  # the search waits for typing to pause
    qtbot.waitUntil(lambda: gallery.count_label.text() != "Showing 600 of 600", timeout=2000)
    expected = sum(demo_spec.items[0].stem.lower() in p.name.lower() for p in demo_spec.items)
    assert gallery.count_label.text() == f"Showing {expected} of 600"
    gallery.shutdown()


def test_thumbnails_arrive_for_visible_rows_only(qtbot, demo_spec):
    gallery = Gallery(thumb_size=QSize(64, 64))
    qtbot.addWidget(gallery)
    gallery.resize(500, 400)
    gallery.set_spec(demo_spec)
    gallery.show()
    qtbot.waitExposed(gallery)
    model = gallery.model
    first = model.index(0)
    qtbot.waitUntil(lambda: first.data(LOADED_ROLE), timeout=5000)
    pixmap = first.data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(pixmap, QPixmap) and max(pixmap.width(), pixmap.height()) == 64
    qtbot.waitUntil(lambda: model.loader.pending == 0, timeout=5000)
    assert 0 < len(model.cache) < 100  # a screenful, not all 600
    assert not model.index(300).data(LOADED_ROLE)
    gallery.view.scrollTo(model.index(300))
    qtbot.waitUntil(lambda: model.index(300).data(LOADED_ROLE), timeout=5000)
    gallery.shutdown()


def test_a_file_that_cannot_be_decoded_gets_a_marked_tile(qtbot, tmp_path, demo_spec):
    from dataclasses import replace

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    spec = replace(demo_spec, items=[broken, *demo_spec.items[1:3]], labels=demo_spec.labels[:3], splits=demo_spec.splits[:3])
    model = GalleryModel(QSize(48, 48))
    model.set_spec(spec)
    model.data(model.index(0), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: model.index(0).data(LOADED_ROLE), timeout=5000)
    tile = model.index(0).data(Qt.ItemDataRole.DecorationRole).toImage()
    assert QColor(tile.pixel(24, 24)) == QColor(240, 200, 200)
    model.shutdown()


def test_requests_scrolled_away_are_taken_back(qtbot, demo_spec):
    loader = ThumbnailLoader(QSize(32, 32), max_threads=1)
    release = threading.Event()

    class Busy(QRunnable):  # holds the only pool thread so every request stays queued
        def run(self):
            release.wait(10)

    busy = Busy()
    loader._pool.start(busy)
    arrived = []
    loader.ready.connect(lambda batch: arrived.extend(key for key, _image in batch))
    for i, path in enumerate(demo_spec.items[:300]):
        loader.request(i, str(path))
    assert loader.pending == 300
    loader.retain({0, 1, 2})
    assert loader.pending == 3
    release.set()
    qtbot.waitUntil(lambda: loader.pending == 0, timeout=5000)
    assert sorted(arrived) == [0, 1, 2]
    loader.shutdown()


def test_cache_is_bounded_and_least_recently_used_goes_first():
    one = QPixmap(10, 10)  # 400 bytes at 32 bits
    cache = PixmapCache(max_bytes=1000)
    cache.put(1, one)
    cache.put(2, QPixmap(one))
    cache.get(1)
    cache.put(3, QPixmap(one))
    assert 2 not in cache and 1 in cache and 3 in cache
    assert cache.bytes <= 1000


def test_double_click_opens_the_viewer_with_the_facts(main_window, qtbot, demo_spec, artifacts_dir):
    main_window.state.set_dataset(demo_spec)
    main_window.show()
    qtbot.waitExposed(main_window)
    page = main_window.data_page
    view = page.gallery.view
    index = page.gallery.model.index(3)
    qtbot.waitUntil(lambda: view.visualRect(index).isValid())
    rect = view.visualRect(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    # QTest's synthesized double-click does not reach item views offscreen; send the event itself.
    pos = QPointF(rect.center())
    double = QMouseEvent(QEvent.Type.MouseButtonDblClick, pos, view.viewport().mapToGlobal(pos),
                         Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), double)
    assert view.currentIndex().row() == 3
    viewer = page.viewer
    assert viewer is not None and viewer.isVisible()
    path = demo_spec.items[3]
    assert viewer.facts["File"] == path.name
    assert viewer.facts["Size"] == f"{path.stat().st_size:,} bytes"
    assert viewer.facts["Pixels"] == "28 × 28"
    assert viewer.facts["Mode"].startswith("L")
    assert viewer.facts["Label"] == demo_spec.labels[3]
    assert viewer.facts["Split"] == demo_spec.splits[3]
    assert not viewer.picture.pixmap().isNull()
    viewer.grab().save(str(artifacts_dir / "image_viewer.png"))
    viewer.close()


def test_viewer_shows_a_large_photo_scaled_with_its_real_size(qtbot, tmp_path):
    from PIL import Image

    from tlstudio.qt.widgets.image_viewer import VIEW_SIZE, ImageViewerDialog

    path = tmp_path / "big photo.jpg"
    Image.new("RGB", (2400, 1200), (30, 120, 200)).save(path, quality=80)
    viewer = ImageViewerDialog(path, "sky", "valid")
    qtbot.addWidget(viewer)
    assert viewer.facts["Pixels"] == "2400 × 1200"
    assert viewer.facts["Mode"] == "RGB (JPEG)"
    shown = viewer.picture.pixmap()
    assert (shown.width(), shown.height()) == (VIEW_SIZE, VIEW_SIZE // 2)
