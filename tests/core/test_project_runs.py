"""A project's runs listed side by side and compared: settings that differ, metrics, curves, per-class F1."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from cli_run import tlstudio

from tlstudio.core.events import BatchEnd, ListReporter


class Killed(BaseException):
    pass


@pytest.fixture(scope="module")
def project(tiny_spec, tiny_config, tmp_path_factory):
    """Runs 1 and 2 complete (unfreeze depth 1, then all groups at another rate); run 3 killed in its
    second stage-2 epoch, so its checkpoint has the depth chosen for the data."""
    from tlstudio.core.project.train_run import train_in_project

    root = tmp_path_factory.mktemp("runs") / "compare.tlsproject"
    first = train_in_project(root, tiny_spec, tiny_config.with_(unfreeze_depth=1), ListReporter())
    second = train_in_project(root, tiny_spec, tiny_config.with_(unfreeze_depth=None, base_lr=5e-4), ListReporter())

    def kill(event):
        if isinstance(event, BatchEnd) and (event.stage, event.epoch, event.batch) == (2, 1, 1):
            raise Killed()
        return False

    with pytest.raises(Killed):
        train_in_project(root, tiny_spec, tiny_config.with_(epochs=2), ListReporter(cancel_when=kill))
    return SimpleNamespace(root=root, runs=[first.result, second.result])


def test_runs_are_listed_with_their_state_the_settings_that_differ_and_metrics(project):
    from tlstudio.core.project.run_summaries import differing_settings, summarize_runs

    summaries = summarize_runs(project.root)
    assert [(s.number, s.state) for s in summaries] == [(1, "completed"), (2, "completed"), (3, "interrupted")]
    assert differing_settings(summaries) == ["epochs", "unfreeze_depth", "base_lr"]
    assert [s.settings["unfreeze_depth"] for s in summaries] == [1, None, 2]  # run 3's depth chosen for the data
    assert [(s.epochs_done, s.epochs_planned) for s in summaries] == [(2, 2), (2, 2), (2, 3)]
    for s, result in zip(summaries, project.runs):
        assert s.kept_epoch == result.kept_epoch
        assert s.final == pytest.approx(result.final_metrics)
        assert s.best["accuracy"] == max(e.metrics["accuracy"] for e in result.history)
        assert s.best["valid_loss"] == min(e.valid_loss for e in result.history)
        assert s.training_s == pytest.approx(sum(e.elapsed_s for e in result.history))
    assert summaries[2].final["valid_loss"] > 0  # the last checkpointed epoch of the killed run


def test_two_runs_compare_as_curves_and_per_class_f1_differences(project, tiny_spec):
    from tlstudio.core.project.compare import compare_runs
    from tlstudio.core.project.layout import ProjectError

    c = compare_runs(project.root, [1, 2, 3])
    assert c.runs == (1, 2, 3) and c.classes == tuple(tiny_spec.classes)
    for curves, n_epochs in zip(c.curves, (2, 2, 2)):
        assert curves.epoch.tolist() == list(range(1, n_epochs + 1)) and curves.stage.tolist() == [1, 2]
        assert len(curves.valid_loss) == len(curves.metrics["accuracy"]) == n_epochs
        assert len(curves.iteration) == len(curves.batch_loss) == len(curves.batch_lr) > 0
    assert len(c.curves[2].iteration) == 4 + 4  # the killed run: the batches of its checkpointed epochs
    evaluations = [json.loads((project.root / "runs" / f"00{n}" / "evaluation.json").read_text()) for n in (1, 2)]
    np.testing.assert_allclose(c.f1[:2], [e["per_class"]["f1"] for e in evaluations])
    assert np.isnan(c.f1[2]).all()  # no evaluation until it completes
    np.testing.assert_allclose(c.f1_diff[1], c.f1[1] - c.f1[0])
    assert (c.f1_diff[0] == 0).all()
    assert c.accuracy[:2].tolist() == [e["accuracy"] for e in evaluations]
    assert c.settings[2] == {"epochs": 1, "unfreeze_depth": None, "base_lr": 5e-4}
    with pytest.raises(ProjectError, match="two or more"):
        compare_runs(project.root, [1])
    with pytest.raises(ProjectError, match="has no run 9"):
        compare_runs(project.root, [1, 9])


def test_the_runs_command_lists_them_and_says_so_in_json(project, capsys):
    table = tlstudio(capsys, "runs", project.root)
    assert table.rc == 0, table.err
    assert table.lines[0].startswith(f"Project {project.root}: dataset ") and table.lines[0].endswith("3 runs")
    header = table.lines[1].split()
    assert header[:6] == ["run", "state", "done", "epochs", "unfreeze_depth", "base_lr"]
    assert table.lines[2].split()[:6] == ["001", "completed", "2/2", "1", "1", "0.001"]
    assert table.lines[3].split()[:6] == ["002", "completed", "2/2", "1", "-", "0.0005"]
    assert table.lines[4].split()[:4] == ["003", "interrupted", "2/3", "2"]
    listed = tlstudio(capsys, "runs", project.root, "--json")
    data = json.loads(listed.out)
    assert data["differing_settings"] == ["epochs", "unfreeze_depth", "base_lr"]
    assert [r["state"] for r in data["runs"]] == ["completed", "completed", "interrupted"]
    assert data["runs"][0]["final"]["accuracy"] == pytest.approx(project.runs[0].final_metrics["accuracy"])
    assert data["dataset"]["n_items"] == 48


def test_resume_says_when_there_is_nothing_to_resume(tiny_spec, tiny_config, tmp_path, capsys):
    from tlstudio.core.project.train_run import train_in_project

    root = tmp_path / "done.tlsproject"
    train_in_project(root, tiny_spec, tiny_config.with_(epochs=0), ListReporter())
    again = tlstudio(capsys, "resume", root)
    assert again.rc == 2
    assert again.err.strip() == f"tlstudio resume: error: {root}: every run is complete; there is nothing to resume"
    missing = tlstudio(capsys, "runs", tmp_path / "nothing-here")
    assert missing.rc == 2 and "no such project folder" in missing.err


def test_a_stopped_run_is_unfinished_only_while_there_is_something_to_continue(tmp_path):
    from tlstudio.core.config import TrainConfig
    from tlstudio.core.project.layout import CHECKPOINT_DIR, MODEL_FILE
    from tlstudio.core.project.runs import last_unfinished, new_run, update_run

    record = new_run(tmp_path, TrainConfig(), dataset_fingerprint="f")
    assert record.unfinished and last_unfinished(tmp_path).number == record.number  # no epoch yet: start again
    record = update_run(record, status="cancelled")
    (record.folder / CHECKPOINT_DIR).mkdir()
    (record.folder / MODEL_FILE).write_bytes(b"model")
    assert record.unfinished  # a checkpoint to continue from
    (record.folder / CHECKPOINT_DIR).rmdir()
    assert not record.unfinished and last_unfinished(tmp_path) is None  # a model saved as it was: nothing to resume
    assert not update_run(record, status="completed").unfinished
