"""Projects in the window: save and reopen restores every page, a new dataset leaves no page
showing the older one, discarding unsaved work asks, and an interrupted run is offered and resumed.

Real windows, real scans, real tiny training runs in the engine process; assertions on widgets."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tlstudio.core.jobs.training import ModelDigestJob
from tlstudio.core.project.runs import list_runs
from tlstudio.qt import engine, settings
from tlstudio.qt.app_state import AppState

RUN_TIMEOUT_MS = 300_000  # a loaded 2-core machine is slow


class Asked:
    """A confirm_discard hook that records the question and gives a fixed answer."""

    def __init__(self, answer: str):
        self.answer = answer
        self.questions: list[tuple[str, list[str]]] = []

    def __call__(self, what, reasons):
        self.questions.append((what, list(reasons)))
        return self.answer


def never_asked(what, reasons):
    raise AssertionError(f"asked to discard before '{what}': {reasons}")


@pytest.fixture
def make_window(qtbot, monkeypatch, tmp_path):
    from tlstudio.qt.main_window import MainWindow

    monkeypatch.setenv("TLSTUDIO_SETTINGS_DIR", str(tmp_path / "settings"))
    windows = []

    def make():
        window = MainWindow(AppState())
        qtbot.addWidget(window)
        window.resize(1200, 800)
        # pytest-qt closes the window before this fixture's teardown: nothing left to keep then.
        window.projects.confirm_discard = lambda _what, _reasons: "discard"
        window.pages["train"].confirm = lambda _title, _text: True
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.projects.confirm_discard = lambda _what, _reasons: "discard"
        window.projects.offer_resume = lambda _record: False
        window.pages["train"].confirm = lambda _title, _text: True  # a run still going at the end: stop it
        window.close()


def open_dataset(qtbot, window, path):
    window.data_page.open_path(path)
    qtbot.waitUntil(lambda: window.state.dataset is not None and not window.data_page.is_scanning()
                    and window.data_page.loader.path == path, timeout=60_000)


def small_run(window, tiny_config):
    window.state.update_train_config(**{f: getattr(tiny_config, f)
                                        for f in ("bs", "freeze_epochs", "epochs", "device", "seed")})
    window.state.set_augment(tiny_config.augment.with_(max_rotate=5.0))


def train(qtbot, window):
    page = window.pages["train"]
    page.start()
    assert page.is_training()
    qtbot.waitUntil(lambda: not page.is_training() and window.state.training is not None, timeout=RUN_TIMEOUT_MS)


def run_lr_finder(qtbot, window):
    page = window.pages["lr"]
    page.options = {"num_it": 12}
    page.run_finder()
    qtbot.waitUntil(lambda: 1 in page.results and not page.is_running(), timeout=RUN_TIMEOUT_MS)
    return page


def test_save_and_reopen_restores_every_page(qtbot, make_window, dataset_factory, tiny_config, tmp_path):
    first = make_window()
    data = dataset_factory("class-folders", per_class=10)
    open_dataset(qtbot, first, data)
    first.data_page.resplit(0.3, 7)  # the random split's share and seed are choices too
    qtbot.waitUntil(lambda: first.state.dataset.seed == 7 and not first.data_page.is_scanning(), timeout=60_000)
    small_run(first, tiny_config)
    lr = run_lr_finder(qtbot, first)
    lr.choose_rate(4e-3)
    first.pages["export"].format_combo.setCurrentIndex(first.pages["export"].format_combo.findData("onnx"))
    first.projects.choose_new_project = lambda: tmp_path / "pets"
    assert first.projects.new_project()
    root = tmp_path / "pets.tlsproject"
    assert (root / "project.json").is_file() and first.windowTitle().startswith("pets project")
    train(qtbot, first)
    evaluate = first.pages["evaluate"]
    qtbot.waitUntil(lambda: evaluate.interpretation is not None, timeout=RUN_TIMEOUT_MS)
    # The run went into the project, with its history, evaluation and model.
    runs = list_runs(root)
    assert [r.number for r in runs] == [1] and runs[0].status == "completed"
    assert first.state.project.run == 1
    assert first.projects.unsaved() == ["the choices in project pets changed since it was saved"]
    first.show_page("lr")
    first.pages["export"].path_edit.setText(str(tmp_path / "out" / "pets.onnx"))
    assert first.projects.save() and first.projects.unsaved() == []
    assert settings.recent_projects() == [str(root.resolve())]

    before = {
        "dataset": sorted(zip(first.state.dataset.items, first.state.dataset.labels, first.state.dataset.splits)),
        "config": first.state.train_config,
        "lr": {k: (r.lrs.copy(), r.suggestions) for k, r in first.pages["lr"].results.items()},
        "lr_status": first.pages["lr"].status.text(),
        "points": first.pages["train"].curves.point_counts(),
        "rows": first.pages["train"].table.rowCount(),
        "row0": first.pages["train"].table.row_values(0),
        "accuracy": evaluate.interpretation.accuracy,
        "confusion": evaluate.interpretation.confusion.copy(),
        "digest": engine.host().run(ModelDigestJob(first.state.training.model.id)),
    }
    assert before["config"].head_lr == 4e-3 and before["config"].augment.max_rotate == 5.0
    assert before["points"]["valid_loss"] == 2 and before["rows"] == 2
    first.projects.confirm_discard = never_asked  # saved: closing asks nothing
    assert first.close()

    second = make_window()
    asked = Asked("discard")
    second.projects.confirm_discard = asked
    second.projects.offer_resume = lambda record: pytest.fail(f"offered to resume the completed run {record.number}")
    assert second.projects.open_project(root)
    qtbot.waitUntil(lambda: second.state.training is not None and second.pages["evaluate"].interpretation is not None,
                    timeout=RUN_TIMEOUT_MS)
    state, pages = second.state, second.pages
    assert asked.questions == []  # nothing was open to lose
    assert sorted(zip(state.dataset.items, state.dataset.labels, state.dataset.splits)) == before["dataset"]
    assert state.train_config == before["config"]
    assert pages["lr"].head_edit.value() == pytest.approx(4e-3)
    assert set(pages["lr"].results) == set(before["lr"])
    for stage, (lrs, suggestions) in before["lr"].items():
        np.testing.assert_allclose(pages["lr"].results[stage].lrs, lrs)
        assert pages["lr"].results[stage].suggestions == suggestions
    assert pages["lr"].status.text() == before["lr_status"]
    assert pages["lr"].plot.suggestion_rates()  # the curve with its suggestions is drawn
    assert pages["train"].curves.point_counts() == before["points"]
    assert pages["train"].table.rowCount() == before["rows"] and pages["train"].table.row_values(0) == before["row0"]
    assert pages["evaluate"].interpretation.accuracy == pytest.approx(before["accuracy"])
    np.testing.assert_array_equal(pages["evaluate"].interpretation.confusion, before["confusion"])
    assert pages["export"].current_format() == "onnx"
    assert pages["export"].path_edit.text() == str(tmp_path / "out" / "pets.onnx")
    assert pages["data"].split_controls.valid.value() == 30 and pages["data"].split_controls.seed.value() == 7
    assert state.dataset.seed == 7
    assert second.current_page_key() == "lr"
    assert state.project.run == 1 and not second.hosts["export"].is_gated()
    # The model is the run's own: the same weights the first window trained.
    assert engine.host().run(ModelDigestJob(state.training.model.id))[0] == before["digest"][0]
    assert second.projects.unsaved() == []


def test_a_new_dataset_leaves_no_page_showing_the_older_one(qtbot, make_window, tiny_spec, tiny_config,
                                                            dataset_factory, tmp_path):
    window = make_window()
    open_dataset(qtbot, window, tiny_spec.root)
    small_run(window, tiny_config)
    lr = run_lr_finder(qtbot, window)
    lr.choose_rate(5e-3)
    assert lr.status.text() and window.state.train_config.head_lr == 5e-3
    train(qtbot, window)
    qtbot.waitUntil(lambda: window.pages["evaluate"].interpretation is not None, timeout=RUN_TIMEOUT_MS)
    window.pages["export"]._show_status("exported and verified")
    assert window.pages["export"].path_edit.text()
    old_path = window.pages["export"].path_edit.text()

    asked = Asked("discard")
    window.projects.confirm_discard = asked
    other = dataset_factory("class-folders")
    open_dataset(qtbot, window, other)
    assert [what for what, _ in asked.questions] == ["open another dataset"]
    assert asked.questions[0][1] == ["the trained model is in no project"]
    state, pages = window.state, window.pages
    assert state.dataset.root == other and state.training is None
    # Learning rate: no curve, no status, the rates back to the defaults.
    assert pages["lr"].results == {} and pages["lr"].plot.suggestion_rates() == {}
    assert pages["lr"].status.text() == "" and state.train_config.head_lr == 2e-3
    assert pages["lr"].head_edit.value() == pytest.approx(2e-3)
    # Train: no curves, no table; Evaluate and Export: gated, nothing of the old model.
    assert pages["train"].curves.point_counts()["valid_loss"] == 0 and pages["train"].table.rowCount() == 0
    assert window.hosts["evaluate"].is_gated() and pages["evaluate"].interpretation is None
    assert window.hosts["export"].is_gated() and "verified" not in pages["export"].export_status.text()
    # A model trained on the new dataset gets a path of its own.
    train(qtbot, window)
    assert pages["export"].path_edit.text() != old_path


def test_discarding_asks_and_cancel_keeps_everything(qtbot, make_window, tiny_spec, tiny_config, dataset_factory,
                                                     tmp_path):
    window = make_window()
    open_dataset(qtbot, window, tiny_spec.root)
    small_run(window, tiny_config)
    train(qtbot, window)
    trained = window.state.training

    cancel = Asked("cancel")
    window.projects.confirm_discard = cancel
    assert window.close() is False and window.state.training is trained  # closing: asked, kept open
    window.data_page.open_path(dataset_factory("class-folders"))  # another dataset: asked, not opened
    assert not window.data_page.is_scanning() and window.state.dataset.root == tiny_spec.root
    window.pages["train"].start()  # a new run over the unsaved model: asked, not started
    assert not window.pages["train"].is_training() and window.state.training is trained
    assert [q[0] for q in cancel.questions] == ["close the window", "open another dataset", "start a new run"]

    # "Save" with no project open makes one, then the window may close.
    save = Asked("save")
    window.projects.confirm_discard = save
    window.projects.choose_new_project = lambda: tmp_path / "kept"
    assert window.close() is True
    data = json.loads((tmp_path / "kept.tlsproject" / "project.json").read_text())
    assert data["pages"]["config"]["freeze_epochs"] == tiny_config.freeze_epochs
    assert save.questions == [("close the window", ["the trained model is in no project"])]


def test_an_interrupted_run_is_offered_and_resumes_in_the_engine(qtbot, make_window, tiny_spec, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from test_cli_project_kill import EPOCH_ROW, _kill_after, _start

    root = tmp_path / "crash.tlsproject"
    proc = _start("train", tiny_spec.root, "--project", root, "--size", "32", "--bs", "8", "--device", "cpu",
                  "--freeze-epochs", "2", "--epochs", "2", "--unfreeze", "2")
    seen: list[str] = []
    assert _kill_after(proc, 2, 0.2, seen), "".join(seen[-20:])  # killed in stage 1's second epoch or later
    [record] = list_runs(root)
    assert record.state == "interrupted"

    window = make_window()
    offered = []
    window.projects.offer_resume = lambda rec: offered.append(rec.number) or True
    assert window.projects.open_project(root)
    qtbot.waitUntil(lambda: bool(offered) and window.pages["train"].is_training(), timeout=60_000)
    assert offered == [1] and window.current_page_key() == "train"
    page = window.pages["train"]
    qtbot.waitUntil(lambda: not page.is_training() and window.state.training is not None, timeout=RUN_TIMEOUT_MS)
    [record] = list_runs(root)
    assert record.status == "completed" and record.sessions == 2
    assert (record.folder / "model.tlsmodel").is_file() and not (record.folder / "checkpoint").exists()
    assert window.state.project.run == 1 and window.state.training.status == "completed"
    # The resumed run trained only the epochs the killed one had not finished.
    assert 0 < page.epochs_seen < 4
    assert len(window.state.training.history) == 4
    # The Train page shows the whole run, the epochs before the kill too.
    assert page.table.rowCount() == 4 and page.curves.point_counts()["valid_loss"] == 4
    history = json.loads((record.folder / "history.json").read_text())
    assert len(history["batches"]["iteration"]) > page.batches_seen
    assert page.curves.point_counts()["train_loss"] > page.batches_seen  # the earlier batches drawn too


def test_the_project_keeps_the_edit_list_and_follows_a_moved_dataset(qtbot, make_window, dataset_factory, tmp_path,
                                                                     engine_env):
    """Relabels and exclusions are saved in project.json, relative to the dataset, so they come back
    with the project even when the app's own copy is gone and the dataset was moved."""
    import shutil

    from tlstudio.core.dataset import edit_store

    engine_env("TLSTUDIO_DATA_DIR", tmp_path / "app-data")
    first = make_window()
    data = dataset_factory("class-folders", per_class=6)
    open_dataset(qtbot, first, data)
    spec = first.state.dataset
    relabelled, excluded = spec.items[0], spec.items[1]
    other = next(c for c in spec.classes if c != spec.labels[0])
    first.projects.choose_new_project = lambda: tmp_path / "edited"
    assert first.projects.new_project() and first.projects.unsaved() == []
    assert first.state.relabel([relabelled], other) == 1 and first.state.exclude([excluded]) == 1
    assert first.projects.unsaved() == ["the choices in project edited changed since it was saved"]
    assert first.projects.save() and first.projects.unsaved() == []
    root = tmp_path / "edited.tlsproject"
    kept = json.loads((root / "project.json").read_text())["pages"]["edits"]
    assert kept["relabelled"] == {relabelled.relative_to(data).as_posix(): other}
    assert kept["excluded"] == [excluded.relative_to(data).as_posix()]
    first.projects.confirm_discard = never_asked
    assert first.close()

    edit_store.edits_path(spec).unlink()  # the app's own copy is gone: only the project has the edits
    moved = tmp_path / "moved-away"
    shutil.move(str(data), moved)
    second = make_window()
    second.projects.ask_dataset_location = lambda _message: moved
    assert second.projects.open_project(root)
    qtbot.waitUntil(lambda: second.state.dataset is not None and second.state.project.project is not None,
                    timeout=60_000)
    state = second.state
    new_relabelled, new_excluded = moved / relabelled.relative_to(data), moved / excluded.relative_to(data)
    assert state.edits.relabelled == {new_relabelled: other} and state.edits.excluded == {new_excluded}
    trains_on = state.training_spec()
    assert new_excluded not in trains_on.items
    assert trains_on.labels[trains_on.items.index(new_relabelled)] == other
    assert len(trains_on) == len(state.dataset) - 1
    assert second.projects.unsaved() == []
    assert edit_store.load_edits(state.dataset).relabelled == {new_relabelled: other}  # kept on this machine again
