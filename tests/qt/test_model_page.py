"""The Model page: architectures and weights status, real layer groups, unfreeze depth, stage settings."""
from __future__ import annotations

import pytest
from fixtures_preview import preview_spec  # noqa: F401  (fixture)
from layout_check import clipped
from PySide6.QtCore import QSettings

from tlstudio.core.models.groups import depth_to_freeze_to, discriminative_lrs
from tlstudio.core.models.registry import ARCHS
from tlstudio.qt.pages.model_page import SPEED_KEY, ModelPage
from tlstudio.qt.widgets.arch_table import INPUT, WEIGHTS
from tlstudio.qt.widgets.depth_control import FROZEN_RATE

GROUPS_TIMEOUT_MS = 60_000  # the first read imports fastai in the worker


@pytest.fixture
def page(qtbot, state, preview_spec):
    state.set_dataset(preview_spec)
    page = ModelPage(state)
    qtbot.addWidget(page)
    page.resize(1030, 780)
    page.show()
    yield page
    close(qtbot, page)


def close(qtbot, page):
    """Shut the page down and wait for its workers, superseded ones included."""
    from tlstudio.qt.workers import EngineTask

    page.shutdown()
    qtbot.waitUntil(lambda: not EngineTask.live_tasks(), timeout=30_000)


def wait_for_groups(qtbot, page, arch: str) -> list:
    qtbot.waitUntil(lambda: page.groups_arch == arch and len(page.depth.groups) == ARCHS[arch].n_groups,
                    timeout=GROUPS_TIMEOUT_MS)
    return page.depth.groups


@pytest.fixture(scope="module")
def meta_learner_for(preview_spec):
    """`arch` -> the learner training would build, structure only (meta device)."""
    import torch

    from tlstudio.core.config import AugmentConfig
    from tlstudio.core.dataset.previews import preview_loaders
    from tlstudio.core.models.learner import build_learner

    cache = {}

    def make(arch):
        if arch not in cache:
            dls = preview_loaders(preview_spec, AugmentConfig())  # real tensors: only the model is on meta
            with torch.device("meta"):
                cache[arch] = build_learner(dls, arch, pretrained=False)
        return cache[arch]

    return make


def test_demo_dataset_screenshot_shows_groups_and_learning_rates(qtbot, state, demo_spec, artifacts_dir):
    state.set_dataset(demo_spec)
    page = ModelPage(state)
    qtbot.addWidget(page)
    page.resize(1030, 780)
    page.show()
    try:
        assert page.table.recommended == "mobilenet_v2"  # a CPU and 48 images per class
        assert state.train_config.arch == "mobilenet_v2"
        groups = wait_for_groups(qtbot, page, "mobilenet_v2")
        assert [g.name for g in groups][-1] == "head"
        assert "48 training images per class is small" in page.depth.advice.text()
        page.depth.apply.click()
        assert state.train_config.unfreeze_depth == 2
        assert [page.depth.table.item(i, 2).text() for i in range(5)] == ["frozen"] * 3 + ["trains"] * 2
        assert page.minimumSizeHint().width() <= 1030  # fits beside the main window's sidebar
        qtbot.wait(50)  # let the layouts settle before the picture
        page.grab().save(str(artifacts_dir / "model_page.png"))
    finally:
        close(qtbot, page)


def test_the_input_column_shows_the_size_training_uses(page):
    assert page.table.cell("mobilenet_v2", INPUT) == f"{page.state.augment.size} px"
    page.state.set_augment(page.state.augment.with_(size=96))
    assert {page.table.cell(name, INPUT) for name in ARCHS} == {"96 px"}
    assert "pretrained at 224 px" in page.table.item(page.table.row_of("resnet50"), INPUT).toolTip()


def test_weights_status_offline_and_missing(page):
    assert page.table.cell("mobilenet_v2", WEIGHTS).startswith("available offline")
    assert page.table.cell("resnet50", WEIGHTS) == "not on this machine"
    page.table.select_arch("resnet50")
    assert page.state.train_config.arch == "resnet50"
    assert "resnet50 weights: not on this machine" in page.weights.status_text()
    assert page.weights.download.isVisibleTo(page)
    page.table.select_arch("mobilenet_v2")
    assert "available offline" in page.weights.status_text()
    assert not page.weights.download.isVisibleTo(page)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_depth_control_maps_to_freeze_to_and_the_displayed_groups_train(qtbot, page, meta_learner_for, depth):
    groups = wait_for_groups(qtbot, page, "mobilenet_v2")
    n = len(groups)
    page.depth.spin.setValue(depth)
    config = page.state.train_config
    assert config.unfreeze_depth == (None if depth == n else depth)
    assert page.depth.freeze_to_arg() == (0 if depth == n else -depth)
    assert depth_to_freeze_to(config.unfreeze_depth, n) == page.depth.freeze_to_arg()

    learn = meta_learner_for("mobilenet_v2")
    learn.freeze_to(depth_to_freeze_to(config.unfreeze_depth, n))
    from tlstudio.core.models.groups import layer_groups

    actual = [g.trainable for g in layer_groups(learn)]
    shown = [page.depth.table.item(i, 2).text() == "trains" for i in range(n)]
    assert shown == actual == page.depth.trains()
    assert [page.depth.table.item(i, 0).text() for i in range(n)] == [f"{g.index + 1}. {g.name}" for g in layer_groups(learn)]
    lrs = discriminative_lrs(n, config.base_lr, config.lr_mult)
    for i in range(n):
        assert page.depth.table.item(i, 3).text() == (f"{lrs[i]:.2e}" if shown[i] else FROZEN_RATE)


def test_stage_settings_feed_the_train_config_and_the_group_rates(qtbot, page):
    wait_for_groups(qtbot, page, "mobilenet_v2")
    s = page.stages
    s.freeze_epochs.setValue(2)
    s.epochs.setValue(5)
    s.lr_mult.setValue(10)
    s.base_lr.setText("5e-4")
    s.base_lr.editingFinished.emit()
    s.same_lr.setChecked(False)
    s.head_lr.setText("4e-3")
    s.head_lr.editingFinished.emit()
    c = page.state.train_config
    assert (c.freeze_epochs, c.epochs, c.lr_mult, c.base_lr, c.head_lr) == (2, 5, 10.0, 5e-4, 4e-3)
    assert page.depth.table.item(4, 3).text() == "5.00e-04"
    assert page.depth.trains() == [False, False, False, True, True]  # the recommended depth, 2
    assert page.depth.table.item(3, 3).text() == f"{discriminative_lrs(5, 5e-4, 10)[3]:.2e}"
    assert page.depth.table.item(0, 3).text() == FROZEN_RATE
    s.same_lr.setChecked(True)
    assert page.state.train_config.head_lr is None
    page.weights.pretrained.setChecked(False)
    assert page.state.train_config.pretrained is False
    assert "random weights" in page.weights.status_text()


def test_applying_an_all_groups_recommendation_unfreezes_everything(qtbot, page):
    wait_for_groups(qtbot, page, "mobilenet_v2")
    page.depth.spin.setValue(2)
    assert page.state.train_config.unfreeze_depth == 2
    page.depth.set_recommendation(5, "train every group: 800 training images per class is large.")
    page.depth.apply.click()
    assert page.state.train_config.unfreeze_depth is None
    assert page.depth.freeze_to_arg() == 0 and "learn.unfreeze()" in page.depth.freeze_to.text()


def test_another_architecture_shows_its_own_groups(qtbot, page, meta_learner_for):
    wait_for_groups(qtbot, page, "mobilenet_v2")
    page.table.select_arch("resnet50")
    groups = wait_for_groups(qtbot, page, "resnet50")
    from tlstudio.core.models.groups import layer_groups

    assert [(g.name, g.n_params) for g in groups] == [(g.name, g.n_params) for g in layer_groups(meta_learner_for("resnet50"))]
    assert "resnet50" in page.depth_box.title()


def test_download_offline_fails_fast_with_a_clear_message(qtbot, page):
    page.table.select_arch("resnet18")
    page.weights.download.click()
    qtbot.waitUntil(lambda: page.weights.banner.text() != "", timeout=20_000)
    message = page.weights.banner.text()
    assert page.weights.banner.level == "error"
    assert "offline" in message and "Import weights file" in message and "resnet18" in message
    qtbot.waitUntil(lambda: not page.weights.progress.isVisibleTo(page), timeout=5_000)
    assert not page.weights.slot.is_running() and page.weights.download.isEnabled()
    assert page.table.cell("resnet18", WEIGHTS) == "not on this machine"
    # The whole message shows, at the size a 1024 x 700 window gives the page.
    page.resize(844, 656)
    qtbot.wait(50)
    assert clipped(page) == []
    label = page.weights.banner.label
    assert label.height() >= label.heightForWidth(label.width())


def test_import_checks_the_file_then_makes_the_weights_available(qtbot, page, tmp_path, engine_env):
    from tlstudio.core.models.weights import OFFLINE
    import os

    engine_env("TORCH_HOME", os.environ["TORCH_HOME"])  # the engine reads the hub cache's place at start

    page.table.select_arch("resnet18")
    bad = tmp_path / "notes.pth"
    bad.write_text("not weights")
    page.weights.import_weights(str(bad))
    qtbot.waitUntil(lambda: page.weights.banner.text() != "", timeout=30_000)
    assert page.weights.banner.level == "error" and str(bad) in page.weights.banner.text()
    assert page.state.train_config.weights_file is None

    # mobilenet_v2's real ImageNet file, imported as a user would: it lands in the hub cache.
    page.table.select_arch("mobilenet_v2")
    page.weights.import_weights(str(OFFLINE["mobilenet_v2"].file()))
    qtbot.waitUntil(lambda: page.state.train_config.weights_file is not None, timeout=60_000)
    assert page.table.cell("mobilenet_v2", WEIGHTS) == "available offline (hub cache)"
    assert page.state.train_config.weights_file.is_file()
    assert page.weights.banner.level == "info"


def test_measured_speed_is_shown_and_remembered(qtbot, page, state):
    wait_for_groups(qtbot, page, "mobilenet_v2")
    page.measure_button.click()
    qtbot.waitUntil(lambda: page.measure_button.isEnabled(), timeout=60_000)
    assert page.table.cell("mobilenet_v2", 5).endswith("img/s")
    # What was measured, said next to it: inference, the batch and the size, and how training differs.
    text = page.speed_status.text()
    assert text.startswith("mobilenet_v2: ") and "images/s inference on cpu (batch 16, 64 px)" in text
    assert "Train page shows its images/s" in text and page.speed_status.isVisible()
    assert QSettings().value(SPEED_KEY.format(arch="mobilenet_v2"))
    again = ModelPage(state)
    qtbot.addWidget(again)
    assert again.table.cell("mobilenet_v2", 5) == page.table.cell("mobilenet_v2", 5)
    close(qtbot, again)
