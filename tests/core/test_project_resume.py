"""A project's run killed mid-training resumes from its checkpoint and ends as the run uninterrupted does.

The kill is a BaseException raised from the reporter at a chosen batch: like
a SIGKILL, nothing after it runs (no history, no model, no status), and the
run folder holds what the last completed epoch's checkpoint wrote. The
resume then runs with pickle unavailable.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from no_pickle import no_pickle

from tlstudio.core.events import BatchEnd, EpochEnd, ListReporter

FAST = dict(freeze_epochs=2, epochs=2, unfreeze_depth=2)
# Stage 1 through the whole network, and early stopping that ends stage 2 after its 2nd epoch.
SLOW = dict(freeze_epochs=2, epochs=4, unfreeze_depth=2, fast_head=False, early_stopping_patience=0)


class Killed(BaseException):
    pass


def _rows(history) -> list[tuple]:
    return [(e.stage, e.epoch, e.global_epoch, round(e.valid_loss, 5), round(e.metrics["accuracy"], 5))
            for e in history]


def _train(tmp_path, name, spec, config, kill_at=None):
    from tlstudio.core.project.train_run import train_in_project

    def kill(event):
        if isinstance(event, BatchEnd) and (event.stage, event.epoch, event.batch) == kill_at:
            raise Killed()
        return False

    reporter = ListReporter(cancel_when=kill)
    root = tmp_path / f"{name}.tlsproject"
    try:
        trained = train_in_project(root, spec, config, reporter)
    except Killed:
        return SimpleNamespace(root=root, trained=None, events=reporter.events)
    return SimpleNamespace(root=root, trained=trained, events=reporter.events)


CONFIGS = {"fast": FAST, "slow": SLOW}
KILLS = [
    ("fast", (1, 1, 2)),  # mid stage 1, on cached features
    ("fast", (2, 0, 0)),  # first batch of stage 2: the checkpoint is stage 1's last epoch
    ("fast", (2, 1, 3)),  # mid stage 2, the best epoch an earlier one
    ("slow", (1, 1, 1)),  # mid stage 1, through the whole network
    ("slow", (2, 1, 2)),  # mid stage 2, before early stopping ends it
]


@pytest.fixture(scope="module")
def uninterrupted(tiny_spec, tiny_config, tmp_path_factory):
    """kind -> the same run uninterrupted, trained once per module."""
    runs = {}

    def get(kind):
        if kind not in runs:
            config = tiny_config.with_(**CONFIGS[kind])
            run = _train(tmp_path_factory.mktemp("whole"), "whole", tiny_spec, config)
            assert run.trained.outcome.status == "completed"
            runs[kind] = SimpleNamespace(config=config, result=run.trained.result)
        return runs[kind]

    return get


@pytest.mark.parametrize("kind, kill_at", KILLS)
def test_a_killed_run_resumes_to_the_uninterrupted_result(uninterrupted, tiny_spec, tmp_path, kind, kill_at):
    from tlstudio.core.project.checkpoint import read_checkpoint
    from tlstudio.core.project.runs import list_runs
    from tlstudio.core.project.train_run import resume_in_project

    whole = uninterrupted(kind)
    killed = _train(tmp_path, "killed", tiny_spec, whole.config, kill_at=kill_at)
    assert killed.trained is None
    (run,) = list_runs(killed.root)
    assert run.state == "interrupted" and not (run.folder / "model.tlsmodel").exists()
    with no_pickle():
        checkpoint = read_checkpoint(run.folder)
        done = [e for e in killed.events if isinstance(e, EpochEnd)]
        assert checkpoint.global_epoch == done[-1].global_epoch  # the last completed epoch, not the one killed
        assert (checkpoint.stage, checkpoint.epoch) == (done[-1].stage, done[-1].epoch)
        assert checkpoint.on_features == (checkpoint.stage == 1 and whole.config.fast_head)
        resumed = resume_in_project(killed.root, ListReporter())
    result = resumed.result
    assert resumed.outcome.status == "completed", result.message
    assert _rows(result.history) == _rows(whole.result.history)
    assert result.kept_epoch == whole.result.kept_epoch
    assert abs(result.final_metrics["accuracy"] - whole.result.final_metrics["accuracy"]) <= 0.01
    # The resumed model is the uninterrupted one, weight for weight.
    ours, theirs = result.learn.model.state_dict(), whole.result.learn.model.state_dict()
    assert max(float((ours[k].float() - theirs[k].float()).abs().max()) for k in ours) < 1e-4
    (run,) = list_runs(killed.root)
    assert run.state == "completed" and run.sessions == 2
    assert not (run.folder / "checkpoint").exists() and (run.folder / "evaluation.json").is_file()


def test_the_runs_resumed_cover_keep_best_and_early_stopping(uninterrupted):
    fast, slow = uninterrupted("fast").result, uninterrupted("slow").result
    assert fast.kept_epoch < fast.history[-1].global_epoch  # keep-best restores an earlier epoch
    assert [e.stage for e in slow.history].count(2) < SLOW["epochs"]  # stage 2 stopped early


def test_the_checkpoint_holds_what_resuming_needs(tiny_spec, tiny_config, tmp_path):
    from tlstudio.core.project.checkpoint import read_checkpoint
    from tlstudio.core.project.runs import list_runs

    config = tiny_config.with_(**FAST)
    killed = _train(tmp_path, "p", tiny_spec, config, kill_at=(2, 1, 0))
    (run,) = list_runs(killed.root)
    with no_pickle():
        cp = read_checkpoint(run.folder)
    assert (cp.stage, cp.epoch, cp.stage_done, cp.on_features) == (2, 0, False, False)
    assert cp.config["unfreeze_depth"] == 2 and cp.config["auto_depth"] is False
    assert [e["global_epoch"] for e in cp.run["history"]] == [0, 1, 2]
    assert cp.run["iteration"] == len(cp.batches()["iteration"]) == 3 * 4
    assert set(cp.rng) == {"python", "numpy", "loaders"} and "rng/torch" in cp.tensors
    assert {"fit.train", "main.train"} <= set(cp.rng["loaders"])
    steps = [s for s in cp.optimizer["state"] if "step" in s]
    assert steps and all(s["step"] == 4 for s in steps)  # one epoch of stage 2 at 4 batches
    assert len(cp.optimizer["hypers"]) == 5
    assert any(k.startswith("opt/") and k.endswith("/grad_avg") for k in cp.tensors)
    # Keep-best state: the best epoch so far, with its weights in their own file unless it is the last one.
    best = cp.run["best"]
    if best["epoch"] == 2:
        assert best["file"] is None and cp.best_state() is None
    else:
        assert best["file"] == f"best-{best['epoch']:03d}.safetensors" and cp.best_state()
    assert sorted(p.name for p in cp.folder.iterdir()) == sorted(
        ["checkpoint.safetensors"] + ([best["file"]] if best["file"] else []))
    model = cp.model_state()
    assert model and all(isinstance(v, torch.Tensor) for v in model.values())
    assert math.isfinite(best["loss"])


def test_a_cancelled_run_keeps_its_model_and_resumes_to_the_uninterrupted_result(uninterrupted, tiny_spec, tmp_path):
    """Ctrl-C: the run stops after the current batch, keeps its best epoch as its model, and stays resumable."""
    from tlstudio.core.delivery.model_file import read_tlsmodel
    from tlstudio.core.project.runs import list_runs
    from tlstudio.core.project.train_run import resume_in_project, train_in_project

    whole = uninterrupted("fast")
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, BatchEnd) and (e.stage, e.epoch, e.batch) == (2, 1, 1))
    cancelled = train_in_project(tmp_path / "c.tlsproject", tiny_spec, whole.config, reporter)
    assert cancelled.outcome.status == "cancelled" and cancelled.outcome.evaluation_file is None
    (run,) = list_runs(tmp_path / "c.tlsproject")
    assert run.state == "cancelled" and (run.folder / "checkpoint" / "checkpoint.safetensors").is_file()
    meta, _ = read_tlsmodel(run.folder / "model.tlsmodel")
    assert meta["classes"] == tiny_spec.classes
    resumed = resume_in_project(tmp_path / "c.tlsproject", ListReporter())
    assert resumed.outcome.status == "completed"
    assert _rows(resumed.result.history) == _rows(whole.result.history)
