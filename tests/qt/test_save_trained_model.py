"""Saving with no project open: the model trained in no project becomes the new project's run 001,
written by a job in the engine process while the window stays responsive; reopening brings back
the same weights, curves, table and evaluation. A close that asked to save waits for the job.

Real windows, real tiny training runs in the engine process; assertions on widgets and files."""
from __future__ import annotations

import json

import numpy as np
import pytest
from test_projects_window import RUN_TIMEOUT_MS, Asked, make_window, never_asked, open_dataset, small_run, train  # noqa: F401

from tlstudio.core.jobs.training import ModelDigestJob
from tlstudio.core.project.runs import list_runs
from tlstudio.qt import engine
from tlstudio.qt.workers import EngineTask


def trained_and_evaluated(qtbot, window, spec, config):
    open_dataset(qtbot, window, spec.root)
    small_run(window, config)
    train(qtbot, window)
    evaluate = window.pages["evaluate"]
    qtbot.waitUntil(lambda: evaluate.interpretation is not None and not evaluate.slot.is_running(),
                    timeout=RUN_TIMEOUT_MS)
    return evaluate.interpretation


def test_saving_with_no_project_makes_the_model_run_001_and_reopening_brings_it_back(
        qtbot, make_window, tiny_spec, tiny_config, tmp_path):
    first = make_window()
    interp = trained_and_evaluated(qtbot, first, tiny_spec, tiny_config)
    train_page = first.pages["train"]
    digest = engine.host().run(ModelDigestJob(first.state.training.model.id))
    rows = [train_page.table.row_values(r) for r in range(train_page.table.rowCount())]
    points = train_page.curves.point_counts()
    assert first.projects.unsaved() == ["the trained model is in no project"]

    first.projects.choose_new_project = lambda: tmp_path / "saved"
    first.save_project_action.trigger()  # Ctrl+S with no project open
    root = tmp_path / "saved.tlsproject"
    # The project is there at once; the model is written in the engine process meanwhile.
    assert (root / "project.json").is_file() and first.projects.is_saving()
    assert first.state.project.run is None
    qtbot.waitUntil(lambda: not first.projects.is_saving(), timeout=RUN_TIMEOUT_MS)
    assert "run 001" in first.statusBar().currentMessage()
    assert first.projects._model_in_project and first.state.project.run == 1
    assert first.projects.unsaved() == []

    folder = root / "runs" / "001"
    [record] = list_runs(root)
    assert record.number == 1 and record.status == "completed" and not record.unfinished
    assert record.kept_epoch == first.state.training.kept_epoch
    assert sorted(p.name for p in (root / "runs").iterdir()) == ["001"]  # nothing half-built left beside it
    for name in ("run.json", "config.json", "history.json", "evaluation.json", "model.tlsmodel"):
        assert (folder / name).is_file(), name
    history = json.loads((folder / "history.json").read_text())
    assert len(history["epochs"]) == len(rows) == tiny_config.freeze_epochs + tiny_config.epochs
    assert len(history["batches"]["iteration"]) == train_page.batches_seen > 0
    assert set(history["batches"]["stage"]) == {1, 2}
    config = json.loads((folder / "config.json").read_text())
    assert config["config"]["bs"] == tiny_config.bs and config["ran"]["epochs"] == tiny_config.epochs
    evaluation = json.loads((folder / "evaluation.json").read_text())
    assert evaluation["split"] == "valid" and evaluation["accuracy"] == pytest.approx(interp.accuracy)
    assert json.loads((root / "project.json").read_text())["pages"]["run"] == 1

    first.projects.confirm_discard = never_asked  # saved: closing asks nothing
    assert first.close()

    second = make_window()
    second.projects.offer_resume = lambda record: pytest.fail(f"offered to resume the saved run {record.number}")
    assert second.projects.open_project(root)
    qtbot.waitUntil(lambda: second.state.training is not None and second.pages["evaluate"].interpretation is not None,
                    timeout=RUN_TIMEOUT_MS)
    assert second.state.project.run == 1 and second.projects.unsaved() == []
    assert engine.host().run(ModelDigestJob(second.state.training.model.id))[0] == digest[0]  # the same weights
    page = second.pages["train"]
    assert [page.table.row_values(r) for r in range(page.table.rowCount())] == rows
    assert page.curves.point_counts() == points
    reopened = second.pages["evaluate"].interpretation
    assert reopened.accuracy == pytest.approx(interp.accuracy)
    np.testing.assert_array_equal(reopened.confusion, interp.confusion)


def test_a_close_that_asked_to_save_stays_open_when_the_save_fails(qtbot, make_window, tiny_spec, tiny_config,
                                                                   tmp_path):
    window = make_window()
    window.show()  # so that staying open can be seen
    trained_and_evaluated(qtbot, window, tiny_spec, tiny_config)
    engine.shutdown()  # the engine, and the model it held, are gone: the save job cannot find it
    save = Asked("save")
    window.projects.confirm_discard = save
    window.projects.choose_new_project = lambda: tmp_path / "lost"
    messages = []
    window.state.status_message.connect(messages.append)
    assert window.close() is False
    qtbot.waitUntil(lambda: not window.projects.is_saving() and not EngineTask.live_tasks(), timeout=RUN_TIMEOUT_MS)
    assert window.isVisible() and window.state.training is not None
    message = messages[-1]
    assert "not saved" in message and "the window stays open" in message
    assert not (tmp_path / "lost.tlsproject" / "runs" / "001").exists()
    assert list((tmp_path / "lost.tlsproject" / "runs").glob(".saving-*")) == []
    assert window.projects.unsaved() == ["the trained model is in no project"]
    assert save.questions == [("close the window", ["the trained model is in no project"])]
    window.projects.confirm_discard = lambda _what, _reasons: "discard"  # pytest-qt closes it next
