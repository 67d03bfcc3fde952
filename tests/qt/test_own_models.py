"""Start from your own model, in the window: the Model page lists the runs of the recent
projects and the model files added, with the dataset each was trained on; choosing one makes
the next run keep its body and layer groups with a new head; a project keeps the choice.

A real first run (into a project, by the engine functions the CLI uses), real windows, a real
second run from it in the engine process; the body is compared tensor by tensor."""
from __future__ import annotations

import json
import zipfile
from types import SimpleNamespace

import pytest
import train_targets
from fixtures_engine import make_tiny_spec
from layout_check import clipped

from tlstudio.core.events import ListReporter
from tlstudio.qt import engine, settings
from tlstudio.qt.app_state import AppState

OTHER_CLASSES = ("coat", "dress", "sandal", "shirt")
RUN_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def first(demo_dir, tiny_config, tmp_path_factory):
    """Run 001 of project "shoes", trained on bag/sneaker/trouser with every group unfrozen."""
    from tlstudio.core.project.train_run import train_in_project

    base = tmp_path_factory.mktemp("first")
    spec = make_tiny_spec(base / "shoes-data", demo_dir)
    trained = train_in_project(base / "shoes.tlsproject", spec, tiny_config.with_(unfreeze_depth=None, keep_best=False),
                               ListReporter())
    assert trained.outcome.status == "completed"
    return SimpleNamespace(root=base / "shoes.tlsproject", run=trained.outcome.folder, spec=spec)


@pytest.fixture(scope="module")
def other_data(demo_dir, tmp_path_factory):
    return make_tiny_spec(tmp_path_factory.mktemp("other") / "clothes", demo_dir, classes=OTHER_CLASSES, per_class=8)


def open_dataset(qtbot, window, path):
    window.data_page.open_path(path)
    qtbot.waitUntil(lambda: window.state.dataset is not None and not window.data_page.is_scanning()
                    and window.data_page.loader.path == path, timeout=60_000)


def use_tiny_settings(window, tiny_config, **changes):
    window.state.update_train_config(**{f: getattr(tiny_config, f) for f in ("bs", "device", "seed")}, **changes)
    window.state.set_augment(tiny_config.augment)


def row_of(own, text):
    """The row of "Your models" whose first cell reads `text`."""
    rows = [r for r in range(own.table.rowCount()) if own.table.item(r, 0).text() == text]
    assert rows, f"{text!r} not among {[own.table.item(r, 0).text() for r in range(own.table.rowCount())]}"
    return rows[0]


def test_a_second_dataset_starts_from_the_first_run_and_keeps_its_body(
        qtbot, main_window, first, other_data, tiny_config, artifacts_dir):
    window, model_page = main_window, main_window.pages["model"]
    settings.add_recent_project(first.root)  # the user trained "shoes" before
    window.resize(1024, 700)
    window.show()
    open_dataset(qtbot, window, other_data.root)
    use_tiny_settings(window, tiny_config, freeze_epochs=1, epochs=0)  # only the head trains: the check is exact
    window.show_page("model")
    own = model_page.own
    row = row_of(own, "run 001 of shoes")
    cells = [own.table.item(row, c).text() for c in range(4)]
    assert cells == ["run 001 of shoes", "mobilenet_v2", "3", "shoes-data"]
    assert str(first.run / "model.tlsmodel") in own.table.item(row, 0).toolTip()
    assert model_page.tabs.tabText(1) == "Your models (1)"

    with qtbot.waitSignal(model_page.start_from_changed, timeout=5_000) as chosen:
        model_page.tabs.setCurrentIndex(1)
        own.table.selectRow(row)  # as a click does
    assert chosen.args == [str(first.run)] and model_page.start_from == str(first.run)
    assert window.pages["lr"].start_from == str(first.run)  # the LR finder probes the same starting point
    assert model_page.start_line.text() == (
        "Starts from run 001 of shoes (mobilenet_v2, trained on shoes-data): its body and "
        f"{len(model_page.starting.layer_groups)} layer groups are kept, a new head for 4 classes.")
    assert model_page.imagenet_button.isVisible() and window.state.train_config.arch == "mobilenet_v2"
    qtbot.wait(100)
    assert (window.width(), window.height()) == (1024, 700), model_page.minimumSizeHint()  # it still fits
    assert clipped(window) == []
    model_page.tabs.setCurrentIndex(0)
    assert model_page.recommendation.text().startswith("The next run starts from your model run 001 of shoes")
    qtbot.wait(50)
    assert clipped(window) == []
    model_page.tabs.setCurrentIndex(1)
    shot = artifacts_dir / "own-models.png"
    window.grab().save(str(shot))
    assert shot.stat().st_size > 0

    train = window.pages["train"]
    assert train.summary.labels["model"].text() == "mobilenet_v2, from run 001 of shoes"
    train.start()
    assert train.is_training()
    qtbot.waitUntil(lambda: not train.is_training() and window.state.training is not None, timeout=RUN_TIMEOUT_MS)
    trained = window.state.training
    assert trained.status == "completed", trained.message
    assert trained.model.classes == OTHER_CLASSES
    assert trained.model.weights_origin == "your model run 001 of shoes.tlsproject"
    carried = engine.host().run(train_targets.BodyCarried(trained.model.id, str(first.run / "model.tlsmodel"),
                                                          other_data, window.state.train_config))
    assert carried["keys"] > 100 and carried["same_keys"]
    assert carried["unequal"] == []  # every body tensor, BatchNorm statistics included, is the first run's
    assert carried["differs_from_imagenet"]  # and the first run had trained it: this is not ImageNet again
    assert carried["head_out"] == len(OTHER_CLASSES) and carried["vocab"] == list(OTHER_CLASSES)

    model_page.imagenet_button.click()
    assert model_page.start_from is None and not model_page.start_line.isVisible()
    assert window.pages["lr"].start_from is None
    assert train.summary.labels["model"].text() == "mobilenet_v2, pretrained"


def _write_model_json(path, meta: dict) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.json", json.dumps(meta))


def test_an_unreadable_model_file_is_one_line_and_the_others_are_still_listed(
        qtbot, main_window, first, other_data, tmp_path):
    window, model_page = main_window, main_window.pages["model"]
    settings.add_recent_project(first.root)
    open_dataset(qtbot, window, other_data.root)
    fake = tmp_path / "broken.tlsmodel"
    fake.write_bytes(b"PK not really a zip")
    odd = tmp_path / "odd.tlsmodel"
    _write_model_json(odd, {"architecture": "no_such_net", "classes": ["a"], "input_size": 32})
    model_page.tabs.setCurrentIndex(1)  # where the Add button is
    for path, why in ((fake, "not a readable TL Studio model file"), (odd, "its architecture (no_such_net) is not")):
        model_page.own.choose_model_file = lambda p=path: str(p)
        model_page.own.add_button.click()
        assert model_page.start_from is None  # it cannot be chosen, and the page says why
        assert model_page.banner.text().startswith(f"Cannot start from it: {path.resolve()}: {why}")
    lines = model_page.own.problems.text().splitlines()
    assert len(lines) == 2 and model_page.own.problems.isVisibleTo(model_page)
    assert lines[0].startswith("Not listed: ") and "odd.tlsmodel: its architecture (no_such_net)" in lines[0]
    assert "broken.tlsmodel: not a readable TL Studio model file (BadZipFile" in lines[1]
    assert [model_page.own.table.item(r, 0).text() for r in range(model_page.own.table.rowCount())] == \
        ["run 001 of shoes"]
    assert settings.own_model_files() == [str(odd.resolve()), str(fake.resolve())]  # remembered, to fix or replace

    # A real model file added by hand is listed under its own name, and chosen.
    copy = tmp_path / "shoes-v1.tlsmodel"
    copy.write_bytes((first.run / "model.tlsmodel").read_bytes())
    model_page.own.choose_model_file = lambda: str(copy)
    model_page.own.add_button.click()
    assert model_page.start_from == str(copy.resolve())
    row = row_of(model_page.own, "shoes-v1.tlsmodel")
    assert model_page.own.table.item(row, 3).text() == "shoes-data"
    assert model_page.own.selected_source() == str(copy.resolve())


def test_a_project_keeps_the_model_its_runs_start_from(qtbot, main_window, first, other_data, tmp_path):
    from tlstudio.qt.main_window import MainWindow

    window = main_window
    open_dataset(qtbot, window, other_data.root)
    window.pages["model"].set_start_from(str(first.run))
    window.projects.choose_new_project = lambda: tmp_path / "clothes"
    assert window.projects.new_project()
    root = tmp_path / "clothes.tlsproject"
    assert json.loads((root / "project.json").read_text())["pages"]["model"] == {"start_from": str(first.run)}
    assert window.projects.unsaved() == []
    assert window.pages["train"].task_fn.keywords["target"].start_from == str(first.run)

    second = MainWindow(AppState())
    qtbot.addWidget(second)
    second.projects.confirm_discard = lambda _what, _reasons: "discard"
    try:
        assert second.projects.open_project(root)
        qtbot.waitUntil(lambda: second.state.dataset is not None and second.state.project.project is not None,
                        timeout=60_000)
        page = second.pages["model"]
        assert page.start_from == str(first.run)
        assert page.start_line.text().startswith("Starts from run 001 of shoes (mobilenet_v2, trained on shoes-data)")
        assert second.projects.unsaved() == []  # the pages are as saved
        # The model learned at 32 px and this project trains at the default size: said, not changed.
        assert second.state.augment.size == 128
        assert page.start_line.text().endswith(
            "a new head for 4 classes. It was trained on 32 px images and this run uses 128 px (Augment page): "
            "the body works at either size, but its features were learned at 32 px.")
        second.state.set_augment(second.state.augment.with_(size=32))
        assert page.start_line.text().endswith("a new head for 4 classes.")
        assert second.pages["train"].summary.labels["model"].text() == "mobilenet_v2, from run 001 of shoes"
        assert second.pages["train"].task_fn.keywords["target"].start_from == str(first.run)
        second.projects.save()
        page.set_start_from(None)
        assert second.projects.unsaved() == ["the choices in project clothes changed since it was saved"]
    finally:
        second.close()


def test_the_runs_panel_starts_a_new_run_from_the_selected_run(qtbot, main_window, first, other_data):
    window = main_window
    open_dataset(qtbot, window, other_data.root)
    window.runs_dock.panel.start_from_requested.emit(first.run)  # "Start a new run from it"
    page = window.pages["model"]
    assert window.current_page_key() == "model" and page.start_from == str(first.run)
    assert page.start_line.text().startswith("Starts from run 001 of shoes (mobilenet_v2, trained on shoes-data)")
    assert window.pages["train"].summary.labels["model"].text() == "mobilenet_v2, from run 001 of shoes"
