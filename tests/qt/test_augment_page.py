"""The Augment page: controls write the config, previews follow from fastai's pipeline off the GUI thread."""
from __future__ import annotations

import numpy as np
import pytest
from fixtures_preview import preview_spec  # noqa: F401  (fixture)
from layout_check import clipped
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStyleOptionViewItem

from tlstudio.core.config import AugmentConfig
from tlstudio.qt.pages.augment_page import AugmentPage
from tlstudio.qt.widgets.gallery_model import ITEM_ROLE

PREVIEW_TIMEOUT_MS = 60_000  # the first preview imports fastai in the worker


def distinct(images: np.ndarray) -> int:
    return len({img.tobytes() for img in images})


@pytest.fixture
def page(qtbot, state, preview_spec):
    """The page on a tiny dataset at 48 px; the screenshot tests switch to the demo set."""
    state.set_augment(AugmentConfig(size=48))
    state.set_dataset(preview_spec)
    page = AugmentPage(state)
    qtbot.addWidget(page)
    page.resize(844, 656)  # what a 1024 x 700 main window leaves beside its sidebar
    page.show()
    yield page
    from tlstudio.qt.workers import EngineTask

    page.shutdown()
    qtbot.waitUntil(lambda: not EngineTask.live_tasks(), timeout=30_000)  # superseded previews too


def wait_for_previews(qtbot, page, **expected):
    def ready():
        p = page.previews
        assert p is not None and not page.slot.is_running()
        for key, value in expected.items():
            assert p[key] == value

    qtbot.waitUntil(ready, timeout=PREVIEW_TIMEOUT_MS)
    return page.previews


def test_previews_show_the_demo_dataset_and_a_screenshot(qtbot, page, demo_spec, artifacts_dir):
    page.state.set_augment(AugmentConfig(size=64))
    page.state.set_dataset(demo_spec)
    p = wait_for_previews(qtbot, page, augment=page.state.augment)
    assert p["grid"].shape == (9, 64, 64, 3)
    assert distinct(p["grid"]) == 9  # augmentation is on by default
    assert p["batch"].shape == (16, 64, 64, 3)
    assert set(p["labels"]) <= set(page.state.dataset.classes)
    assert [t.caption.text() for t in page.batch.tiles] == p["labels"]
    assert all(not t.image.pixmap().isNull() for t in page.grid.tiles)
    assert "Normalize" in page.pipeline.text() and "Flip" in page.pipeline.text()
    assert page.minimumSizeHint().width() <= 844
    qtbot.waitUntil(lambda: page.status.text() == "" and page.busy.isHidden(), timeout=5_000)
    qtbot.wait(50)  # let the layouts settle before the picture
    page.grab().save(str(artifacts_dir / "augment_page.png"))


def test_a_control_writes_the_config_and_changes_the_previews(qtbot, page):
    before = wait_for_previews(qtbot, page)
    page.controls.spins["max_rotate"].setValue(45)
    assert page.state.augment.max_rotate == 45  # at once, before any preview work
    assert page.controls.preset.currentText() == "custom"
    after = wait_for_previews(qtbot, page, augment=page.state.augment)
    assert not np.array_equal(before["grid"], after["grid"])
    assert not np.array_equal(before["batch"], after["batch"])


def test_preset_none_gives_nine_equal_images_and_reshuffle_draws_new_ones(qtbot, page):
    page.controls.preset.setCurrentText("none")
    assert page.state.augment.enabled is False
    off = wait_for_previews(qtbot, page, augment=page.state.augment)
    assert distinct(off["grid"]) == 1
    assert not page.controls.spins["max_rotate"].isEnabled()

    page.controls.preset.setCurrentText("strong")
    strong = wait_for_previews(qtbot, page, augment=page.state.augment)
    assert distinct(strong["grid"]) == 9
    page.reshuffle.click()
    again = wait_for_previews(qtbot, page, seed=strong["seed"] + 1)
    assert not np.array_equal(strong["grid"], again["grid"])


def test_clicking_a_thumbnail_chooses_the_image_and_a_size_changes_the_grid(qtbot, page):
    first = wait_for_previews(qtbot, page)
    spec = page.state.dataset
    picker = page.picker
    other_class = next(c for c in spec.classes if c != spec.labels[first["item_index"]])
    picker.class_box.setCurrentText(other_class)  # the picker filters like the Data page's gallery
    qtbot.waitUntil(lambda: picker.model.rowCount() > 0)
    index = picker.model.index(0, 0)
    qtbot.mouseClick(picker.view.viewport(), Qt.MouseButton.LeftButton, pos=picker.view.visualRect(index).center())
    chosen = index.data(ITEM_ROLE)
    assert spec.labels[chosen] == other_class and page.item_index == chosen
    other = wait_for_previews(qtbot, page, item_index=chosen)
    assert not np.array_equal(first["grid"], other["grid"])
    assert page.image_name.text().startswith(f"Image: {spec.items[chosen].parent.name}/")
    page.controls.size.setValue(32)
    smaller = wait_for_previews(qtbot, page, augment=page.state.augment)
    assert smaller["grid"].shape == (9, 32, 32, 3)


def test_the_pickers_file_names_read_whole_with_the_rest_in_the_tooltip(qtbot, page, demo_spec):
    page.state.set_dataset(demo_spec)
    view = page.picker.view
    qtbot.waitUntil(lambda: page.picker.model.rowCount() == len(demo_spec.items))
    qtbot.wait(50)
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    on_screen = [page.picker.model.index(row, 0) for row in range(12)]
    on_screen = [i for i in on_screen if view.visualRect(i).intersects(view.viewport().rect())]
    assert len(on_screen) >= 8  # two rows of several thumbnails at 1024 x 700
    for index in on_screen:
        name = demo_spec.items[index.data(ITEM_ROLE)].name
        assert index.data() == name
        assert view.itemDelegateForIndex(index).sizeHint(option, index).width() <= view.visualRect(index).width(), name
        assert index.data(Qt.ItemDataRole.ToolTipRole).startswith(name)
    assert not [p for p in clipped(page) if "caption" in p]


def test_clicking_a_batch_image_shows_its_augmentations(qtbot, page):
    first = wait_for_previews(qtbot, page)
    item = first["batch_items"][5]
    qtbot.mouseClick(page.batch.tiles[5].image, Qt.MouseButton.LeftButton)
    assert page.item_index == item
    chosen = wait_for_previews(qtbot, page, item_index=item)
    assert page.state.dataset.labels[item] == first["labels"][5]
    assert chosen["grid"].shape[0] == 9


def test_a_burst_of_edits_runs_the_pipeline_once(qtbot, page, monkeypatch):
    wait_for_previews(qtbot, page)
    starts = []
    real_start = page.slot.start
    monkeypatch.setattr(page.slot, "start", lambda *a, **k: starts.append(1) or real_start(*a, **k))
    for degrees in (15, 20, 25, 30):
        page.controls.spins["max_rotate"].setValue(degrees)
    wait_for_previews(qtbot, page, augment=page.state.augment)
    assert len(starts) == 1
    assert page.state.train_config.augment.max_rotate == 30


def test_the_pipeline_line_follows_the_architectures_normalization(qtbot, page, demo_spec):
    page.state.set_augment(AugmentConfig(size=32))
    page.state.set_dataset(demo_spec)
    wait_for_previews(qtbot, page, augment=page.state.augment)
    assert "mean=[0.485, 0.456, 0.406]" in page.pipeline.text()  # mobilenet_v2: ImageNet's
    page.state.update_train_config(arch="tf_efficientnet_lite0")
    qtbot.waitUntil(lambda: "mean=[0.5, 0.5, 0.5]" in page.pipeline.text(), timeout=PREVIEW_TIMEOUT_MS)


def test_every_augmentation_control_and_its_label_has_its_own_tooltip(qtbot):
    from PySide6.QtWidgets import QFormLayout, QGroupBox

    from tlstudio.qt.widgets.augment_controls import AugmentControls

    controls = AugmentControls()
    qtbot.addWidget(controls)
    tips = {}
    for form in controls.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            for role in (QFormLayout.ItemRole.LabelRole, QFormLayout.ItemRole.FieldRole, QFormLayout.ItemRole.SpanningRole):
                item = form.itemAt(row, role)
                if item is not None and item.widget() is not None:
                    widget = item.widget()
                    assert widget.toolTip(), f"{type(widget).__name__} {getattr(widget, 'text', lambda: '')()!r} has no tooltip"
                    if role != QFormLayout.ItemRole.LabelRole:
                        tips[id(widget)] = widget.toolTip()
    assert len(tips) == 15 and len(set(tips.values())) == len(tips)  # each control says its own thing
    assert all(not box.toolTip() for box in controls.findChildren(QGroupBox))  # no shared group text over them
