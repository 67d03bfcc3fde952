"""Which weights a run ends with: last completed epoch, best epoch, early stopping."""
from __future__ import annotations

import math

import torch
from torch import nn

from tlstudio.core import training
from tlstudio.core.callbacks import RunLog
from tlstudio.core.events import EpochEnd, ListReporter


def _epoch(global_epoch, valid_loss, stage=1):
    return EpochEnd(stage, global_epoch, 4, global_epoch, 1.0, valid_loss, {}, 0.1)


def _log_with_losses(losses, keep_best):
    model = nn.Linear(2, 1)
    log = RunLog(model, keep_best=keep_best)
    weights = []
    for i, loss in enumerate(losses):
        with torch.no_grad():
            model.weight.fill_(float(i))
        weights.append(model.weight.detach().clone())
        log.epoch_completed(_epoch(i, loss))
    with torch.no_grad():
        model.weight.fill_(-1.0)  # an unfinished epoch's half-trained weights
    return log, model, weights


def test_interrupted_run_restores_the_last_completed_epoch():
    log, model, weights = _log_with_losses([0.9, 0.5, 0.7], keep_best=False)
    assert log.restore(finished=False) == 2
    assert torch.equal(model.weight, weights[2])


def test_keep_best_restores_the_lowest_valid_loss_epoch():
    log, model, weights = _log_with_losses([0.9, 0.5, 0.7], keep_best=True)
    assert log.restore(finished=True) == 1
    assert torch.equal(model.weight, weights[1])


def test_finished_run_keeps_its_final_weights_unless_keep_best():
    log, model, _ = _log_with_losses([0.9, 0.5, 0.7], keep_best=False)
    assert log.restore(finished=True) == 2
    assert torch.equal(model.weight, torch.full_like(model.weight, -1.0))


def test_no_completed_epoch_restores_the_starting_weights():
    model = nn.Linear(2, 1)
    start = model.weight.detach().clone()
    log = RunLog(model)
    with torch.no_grad():
        model.weight.add_(1.0)
    assert log.restore(finished=False) is None
    assert torch.equal(model.weight, start)


def test_a_nan_valid_loss_never_counts_as_best():
    log, model, weights = _log_with_losses([0.9, math.nan, 0.95], keep_best=True)
    assert log.restore(finished=True) == 0


def test_epochs_since_best_counts_within_a_stage():
    log, _, _ = _log_with_losses([0.9, 0.5, 0.7, 0.8], keep_best=False)
    assert log.epochs_since_best(1) == 2
    assert log.epochs_since_best(2) == 0


def test_keep_best_in_a_real_run(tiny_spec, tiny_config):
    # A deliberately high head learning rate makes the valid loss jump around.
    config = tiny_config.with_(freeze_epochs=4, epochs=0, head_lr=0.3, keep_best=True)
    learn = training.prepare_learner(tiny_spec, config)
    at_epoch = {}

    def watch(e):
        if isinstance(e, EpochEnd):
            at_epoch[e.global_epoch] = {k: v.detach().clone() for k, v in learn.model.state_dict().items()}
        return False

    result = training.run(tiny_spec, config, ListReporter(cancel_when=watch), learn=learn)
    assert result.status == "completed" and len(result.history) == 4
    best = min(result.history, key=lambda e: e.valid_loss).global_epoch
    assert result.kept_epoch == best
    kept = at_epoch[best]
    assert all(torch.equal(v, kept[k]) for k, v in learn.model.state_dict().items())
    assert "kept best epoch" in result.message


def test_early_stopping_ends_the_stage_at_the_first_epoch_without_improvement(tiny_spec, tiny_config):
    config = tiny_config.with_(freeze_epochs=6, epochs=0, head_lr=0.3, early_stopping_patience=0)
    result = training.run(tiny_spec, config, ListReporter())
    assert result.status == "completed"
    losses = [e.valid_loss for e in result.history]
    worse = [i for i in range(1, len(losses)) if losses[i] >= min(losses[:i])]
    if worse:
        assert len(losses) == worse[0] + 1, f"should stop right after epoch {worse[0]}: {losses}"
        assert "stopped early" in result.message
    else:
        assert len(losses) == 6
