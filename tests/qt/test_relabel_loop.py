"""The relabel loop in the window: select images, relabel or exclude them, and the next run trains on that;
the edits survive a restart; "Apply to disk" and its undo; the doctor's imbalance fix lands in the config."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QPushButton

from tlstudio.core.dataset.scan import scan
from tlstudio.core.doctor import DoctorConfig
from tlstudio.qt.widgets.image_actions import ImageActions
from tlstudio.qt.widgets.image_results_gallery import GalleryEntry, ImageResultsGallery
from tlstudio.qt.workers import EngineTask

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(autouse=True)
def own_data_folder(tmp_path, engine_env):
    """The edit lists these tests keep go to a folder of their own, never to the session's."""
    engine_env("TLSTUDIO_DATA_DIR", tmp_path / "app-data")
    return tmp_path / "app-data"


def screenshot(widget, name: str, artifacts_dir: Path) -> Path:
    path = artifacts_dir / f"{name}.png"
    widget.grab().save(str(path))
    if os.environ.get("TLSTUDIO_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as shot:
            shot.convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(DOCS / f"{name}.png", optimize=True)
    return path


def settle(window, qtbot) -> None:
    """Paint once so the gallery asks for its visible thumbnails, and give them time to arrive."""
    window.grab()
    qtbot.wait(1500)


def tree(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


def copy_classes(demo_dir: Path, root: Path, counts: dict[str, int]) -> Path:
    for cls, n in counts.items():
        for src in sorted((demo_dir / cls).glob("*.png"))[:n]:
            (root / cls).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, root / cls / src.name)
    return root


def open_in(window, qtbot, path) -> None:
    with qtbot.waitSignal(window.state.dataset_changed, timeout=30_000):
        window.open_dataset(path)


def select(view, rows) -> None:
    view.clearSelection()
    for row in rows:
        view.selectionModel().select(view.model().index(row, 0),
                                     QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


def test_a_relabel_from_top_losses_changes_what_the_next_run_trains_on(main_window, qtbot, trained_result, artifacts_dir):
    from tlstudio.qt.pages.train_page import train_task

    state = main_window.state
    state.set_dataset(trained_result.spec)
    state.set_training(trained_result)
    page = main_window.pages["evaluate"]
    main_window.show_page("evaluate")
    main_window.resize(1280, 800)
    qtbot.waitUntil(lambda: page.interpretation is not None and not page.slot.is_running(), timeout=60_000)
    gallery, tools = page.top_losses, page.top_tools
    assert not tools.actions.relabel_button.isEnabled()  # nothing selected yet
    select(gallery, [0, 1])
    chosen = gallery.selected_paths()
    assert len(chosen) == 2 and tools.actions.relabel_button.isEnabled() and tools.actions.count.text() == "2 selected"
    new_label = next(c for c in trained_result.spec.classes
                     if c != trained_result.spec.labels[trained_result.spec.items.index(chosen[0])])
    menu = tools.actions.menu()
    relabel_menu = next(a.menu() for a in menu.actions() if a.text() == "Relabel as")
    assert [a.text() for a in relabel_menu.actions() if a.text()] == [*trained_result.spec.classes, "New class…"]
    assert [a.text() for a in menu.actions()] == ["Relabel as", "Exclude", "Undo edit", "Show in folder"]
    menu.adjustSize()
    screenshot(menu, "relabel-0-context-menu", artifacts_dir)
    relabel_menu.adjustSize()
    screenshot(relabel_menu, "relabel-0-relabel-as", artifacts_dir)
    next(a for a in relabel_menu.actions() if a.text() == new_label).trigger()

    assert state.edits.relabelled == {p: new_label for p in chosen}
    next_run = state.training_spec()
    assert [next_run.labels[next_run.items.index(p)] for p in chosen] == [new_label] * 2
    assert trained_result.spec.labels != next_run.labels  # the open dataset itself is unchanged
    assert [gallery.item(r).background().color().alpha() for r in range(3)] == [255, 255, 0]  # edited: tinted
    assert f"Relabelled '{new_label}'" in gallery.item(0).toolTip()
    assert state.model_stale
    train, export = main_window.pages["train"], main_window.pages["export"]
    assert "edits changed since the model was trained (now: 2 relabelled)" in train.stale_banner.text()
    assert "edits changed since the model was trained" in export.stale_banner.text()
    qtbot.waitUntil(lambda: gallery.thumbnails_pending() == 0, timeout=10_000)
    gallery.clearSelection()  # the edited images' tint shows
    screenshot(main_window, "relabel-1-top-losses", artifacts_dir)

    select(gallery, [2])
    excluded = gallery.selected_paths()[0]
    tools.actions.exclude_button.click()
    assert state.edits.excluded == {excluded} and excluded not in state.training_spec().items

    # The selected cell's images have the same actions.
    edited = set(chosen) | {excluded}
    page.show_cell(1, 1)
    row = next(r for r, e in enumerate(page.cell_gallery.entries) if e.path not in edited)
    select(page.cell_gallery, [row])
    in_cell = page.cell_gallery.selected_paths()[0]
    assert not page.cell_tools.actions.restore_button.isEnabled()
    page.cell_tools.actions.relabel("boot")
    assert state.edits.relabelled[in_cell] == "boot" and page.cell_tools.actions.restore_button.isEnabled()
    page.cell_tools.actions.restore_button.click()
    assert not state.edits.edited(in_cell) and state.edits.paths() == edited

    # The next run, a real one in the training process, trains on the edited dataset.
    trained_on = []

    def task(spec, config, reporter):
        trained_on.append(spec)
        return train_task(spec, config, reporter)

    state.update_train_config(freeze_epochs=1, epochs=0, bs=8, device="cpu", augment=state.train_config.augment.with_(size=32))
    train.task_fn = task
    main_window.show_page("train")
    screenshot(main_window, "relabel-2-train-page-stale", artifacts_dir)
    asked = []  # the model trained before is in no project: starting over it asks first
    main_window.projects.confirm_discard = lambda what, reasons: asked.append(what) or "discard"
    train.start()
    assert asked == ["start a new run"]
    qtbot.waitUntil(lambda: not train.is_training() and train.result is not None, timeout=240_000)
    assert train.result.status == "completed", train.result.message
    (spec,) = trained_on
    assert spec is state.training_spec() and len(spec) == len(trained_result.spec) - 1
    assert [spec.labels[spec.items.index(p)] for p in chosen] == [new_label] * 2
    assert state.training is train.result and not state.model_stale and train.stale_banner.text() == ""
    state.restore(list(state.edits.paths()))  # back to the files as they are: the new model is stale now
    assert state.model_stale and "(now: no edits)" in train.stale_banner.text()


def test_edits_survive_a_restart(qtbot, state, tmp_path, demo_dir, own_data_folder, artifacts_dir):
    from tlstudio.qt.app_state import AppState
    from tlstudio.qt.main_window import MainWindow

    root = copy_classes(demo_dir, tmp_path / "data", {"bag": 6, "coat": 6, "dress": 6})
    first = MainWindow(state)
    qtbot.addWidget(first)
    open_in(first, qtbot, root)
    spec = state.dataset
    bag = [p for p, l in zip(spec.items, spec.labels) if l == "bag"][:2]
    gallery = ImageResultsGallery()
    qtbot.addWidget(gallery)
    gallery.set_entries([GalleryEntry(p, p.name) for p in spec.items])
    actions = ImageActions(state, gallery.selected_paths)
    actions.attach(gallery)
    select(gallery, [spec.items.index(p) for p in bag])
    actions.ask_label = lambda: "boot"  # "New class…" asks for a name
    next(a for a in actions.relabel_menu.actions() if a.text() == "New class…").trigger()
    assert state.edits.relabelled == {p: "boot" for p in bag}
    assert "boot" in state.training_spec().classes
    assert first.data_page.edits_bar.label.text().startswith("Edits for the next training run: 2 relabelled")
    first.close()

    # A new window on the same data folder, the dataset opened again (and split anew).
    again_state = AppState()
    second = MainWindow(again_state)
    qtbot.addWidget(second)
    second.data_page.open_path(root)
    qtbot.waitUntil(lambda: again_state.dataset is not None, timeout=30_000)
    assert again_state.edits.relabelled == {p: "boot" for p in bag}
    assert again_state.training_spec().class_counts()["boot"] == 2
    assert "2 relabelled" in second.data_page.edits_bar.label.text()
    assert list((own_data_folder / "edits").glob("*.json"))
    second.close()


def test_apply_to_disk_and_undo_from_the_data_page(main_window, qtbot, tmp_path, demo_dir, artifacts_dir):
    root = copy_classes(demo_dir, tmp_path / "data", {"bag": 6, "coat": 6})
    before = tree(root)
    state = main_window.state
    open_in(main_window, qtbot, root)
    spec = state.dataset
    bag = [p for p, l in zip(spec.items, spec.labels) if l == "bag"]
    state.relabel([bag[0]], "coat")
    state.exclude([bag[1]])
    state.edits.move(bag[2], "valid")  # a random split: the files cannot hold it
    state.commit_edits()
    bar = main_window.data_page.edits_bar
    assert bar.apply_button.isEnabled() and bar.undo_button.isHidden()
    asked = []
    bar.confirm = lambda title, text: asked.append(text) or True
    with qtbot.waitSignal(state.dataset_changed, timeout=30_000):
        bar.apply_button.click()
    assert "Move 2 files" in asked[0] and "1 into _removed/" in asked[0] and "they stay edits" in asked[0]
    assert (root / "coat" / bag[0].name).exists() and (root / "_removed" / "bag" / bag[1].name).exists()
    assert state.dataset.class_counts() == {"bag": 4, "coat": 7}
    assert dict(state.edits.moved) == {bag[2]: "valid"} and len(state.edits) == 1  # what the files cannot hold
    assert not bar.undo_button.isHidden()
    assert "1 file was skipped" in main_window.data_page.banner.text()  # _removed/, named in the skipped list
    assert any("holds the images taken out" in s.detail for s in state.dataset.skipped)
    settle(main_window, qtbot)
    screenshot(main_window, "relabel-3-applied-to-disk", artifacts_dir)

    with qtbot.waitSignal(state.dataset_changed, timeout=30_000):
        bar.undo_button.click()
    assert tree(root) == before
    assert len(state.edits) == 3  # the edits from before the apply are pending again
    assert bar.undo_button.isHidden()


def test_apply_to_disk_is_off_for_a_csv_dataset(main_window, qtbot, dataset_factory):
    open_in(main_window, qtbot, dataset_factory("csv"))
    state = main_window.state
    state.exclude(state.dataset.items[:1])
    bar = main_window.data_page.edits_bar
    assert not bar.apply_button.isEnabled() and "the labels come from a CSV file" in bar.apply_button.toolTip()


def test_the_doctor_panel_relabels_and_offers_the_imbalance_fix(main_window, qtbot, tmp_path, demo_dir, artifacts_dir):
    root = copy_classes(demo_dir, tmp_path / "data", {"bag": 30, "coat": 30, "dress": 3})
    shutil.copyfile(root / "bag" / sorted(os.listdir(root / "bag"))[0], root / "coat" / "copy.png")  # a conflict
    state = main_window.state
    open_in(main_window, qtbot, root)
    main_window.resize(1280, 860)
    panel = main_window.data_page.doctor
    panel.config = DoctorConfig(features=False)
    panel.start()
    qtbot.waitUntil(lambda: panel.report is not None, timeout=60_000)
    groups = {panel.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole): panel.tree.topLevelItem(i)
              for i in range(panel.tree.topLevelItemCount())}
    imbalance = groups["imbalance"]
    buttons = {b.property("fix"): b for b in panel.tree.itemWidget(imbalance, 3).findChildren(QPushButton)}
    assert set(buttons) == {"loss_weights", "oversample"}
    buttons["oversample"].click()
    assert state.train_config.imbalance == "oversample"
    summary = main_window.pages["train"].summary
    assert summary.imbalance.currentData() == "oversample"
    buttons["loss_weights"].click()
    assert state.train_config.imbalance == "loss_weights" and not buttons["oversample"].isChecked()

    conflict = groups["conflicting_label"].child(0)
    panel.tree.setCurrentItem(conflict)
    files = list(conflict.data(0, Qt.ItemDataRole.UserRole + 1).files)
    actions = main_window.data_page.doctor_actions
    assert panel.selected_paths() == files and actions.exclude_button.isEnabled()
    next(a for a in actions.relabel_menu.actions() if a.text() == "dress").trigger()
    assert state.edits.relabelled == {p: "dress" for p in files}
    opened = []
    actions.open_url = lambda url: opened.append(url.toLocalFile())
    actions.folder_button.click()
    assert sorted(opened) == sorted({str(p.parent) for p in files})
    main_window.resize(1280, 1000)
    groups["exact_duplicate"].setExpanded(False)
    settle(main_window, qtbot)
    panel.tree.scrollToBottom()
    screenshot(main_window, "doctor-panel", artifacts_dir)
    # A fix made in the panel lands in the same edit list, kept for the dataset.
    from tlstudio.core.dataset import edit_store

    assert edit_store.load_edits(scan(root)).relabelled == {p: "dress" for p in files}


@pytest.fixture
def cam_result(tiny_spec, tiny_config):
    """A head trained at 128 px in the window's engine process: mobilenet_v2's body then gives a
    4 x 4 map (at 32 px, one cell)."""
    import dataclasses

    from tlstudio.core.config import AugmentConfig
    from tlstudio.core.jobs.training import TrainJob
    from tlstudio.qt import engine

    config = tiny_config.with_(augment=AugmentConfig(size=128, enabled=False), freeze_epochs=2, epochs=0)
    result = engine.host().run(TrainJob(tiny_spec, config))
    assert result.status == "completed", result.message
    return dataclasses.replace(result, spec=tiny_spec)


def test_grad_cam_overlays_on_top_losses_and_predictions(main_window, qtbot, cam_result, artifacts_dir):
    trained_result = cam_result
    state = main_window.state
    state.set_dataset(trained_result.spec)
    state.set_training(trained_result)
    main_window.resize(1280, 800)
    page = main_window.pages["evaluate"]
    main_window.show_page("evaluate")
    qtbot.waitUntil(lambda: page.interpretation is not None and not page.slot.is_running(), timeout=60_000)
    gallery, toggle = page.top_losses, page.top_tools.grad_cam
    qtbot.waitUntil(lambda: gallery.thumbnails_pending() == 0, timeout=10_000)
    plain = gallery.item(0).icon().pixmap(96, 96).toImage()
    assert toggle.isEnabled()
    toggle.setChecked(True)
    qtbot.waitUntil(lambda: len(toggle.overlays) == len(gallery.entries) and not toggle.is_running(), timeout=60_000)
    shown = gallery.item(0).icon().pixmap(96, 96).toImage()
    assert _colourful(shown) and not _colourful(plain)  # the grey Fashion-MNIST thumbnail now carries the heat map
    screenshot(main_window, "grad-cam-top-losses", artifacts_dir)
    toggle.setChecked(False)
    qtbot.waitUntil(lambda: gallery.thumbnails_pending() == 0, timeout=10_000)
    assert not _colourful(gallery.item(0).icon().pixmap(96, 96).toImage())

    predict = main_window.pages["predict"]
    main_window.show_page("predict")
    valid = [trained_result.spec.items[i] for i in trained_result.spec.indices("valid")]
    predict.take_paths(valid[:6])
    qtbot.waitUntil(lambda: predict.result is not None and not predict.slot.is_running(), timeout=60_000)
    cam = predict.tools.grad_cam
    cam.setChecked(True)
    qtbot.waitUntil(lambda: len(cam.overlays) == 6 and not cam.is_running(), timeout=60_000)
    model = predict.table.source
    decoration = model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole)
    assert _colourful(decoration.toImage())
    predict.table.selectRow(0)
    assert predict.tools.actions.exclude_button.isEnabled()  # a dataset image: it can be edited from here too
    assert predict.tools.actions.exclude() == 1 and state.edits.excluded == {valid[0]}
    screenshot(main_window, "grad-cam-predict", artifacts_dir)
    cam.setChecked(False)
    predict.tools.grad_cam.refresh()
    qtbot.waitUntil(lambda: not EngineTask.live_tasks(), timeout=30_000)


def _colourful(image) -> bool:
    """Whether a picture holds clear colour, not just greys."""
    import numpy as np

    image = image.convertToFormat(image.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8)[: image.height() * image.bytesPerLine()]
    rows = data.reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()].reshape(image.height(), -1, 3)
    spread = rows.max(axis=2).astype(int) - rows.min(axis=2)
    return float((spread > 60).mean()) > 0.05


def test_grad_cam_is_off_for_a_model_without_its_network(qtbot):
    from types import SimpleNamespace

    from tlstudio.qt.widgets.grad_cam_toggle import GradCamToggle

    shown = []
    onnx = SimpleNamespace(learn=None, runtime=object())  # an ONNX or TorchScript file as core.export loads it
    toggle = GradCamToggle(lambda: onnx, lambda: [Path("a.png")], shown.append)
    qtbot.addWidget(toggle)
    toggle.setChecked(True)
    assert not toggle.isEnabled() and "ONNX and TorchScript" in toggle.toolTip()
    assert shown == [{}] and not toggle.is_running()
