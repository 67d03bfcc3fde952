"""Which weights a run ends with: last completed epoch, best epoch, early stopping."""
from __future__ import annotations

import math

import pytest
import torch
from fixtures_engine import best_epoch
from torch import nn

from tlstudio.core.config import TrainConfig
from tlstudio.core.events import EpochEnd, ListReporter
from tlstudio.core.training.callbacks import RunLog
from tlstudio.core.training import run as training


def _epoch(global_epoch, valid_loss, stage=1, accuracy=None):
    metrics = {} if accuracy is None else {"accuracy": accuracy}
    return EpochEnd(stage, global_epoch, 4, global_epoch, 1.0, valid_loss, metrics, 0.1)


def _log_with_losses(losses, keep_best, accuracies=None):
    model = nn.Linear(2, 1)
    log = RunLog(model, keep_best=keep_best)
    weights = []
    for i, loss in enumerate(losses):
        with torch.no_grad():
            model.weight.fill_(float(i))
        weights.append(model.weight.detach().clone())
        log.epoch_completed(_epoch(i, loss, accuracy=None if accuracies is None else accuracies[i]))
    with torch.no_grad():
        model.weight.fill_(-1.0)  # an unfinished epoch's half-trained weights
    return log, model, weights


def test_interrupted_run_restores_the_last_completed_epoch():
    log, model, weights = _log_with_losses([0.9, 0.5, 0.7], keep_best=False)
    assert log.restore(finished=False) == 2
    assert torch.equal(model.weight, weights[2])


def test_keep_best_without_an_accuracy_restores_the_lowest_valid_loss_epoch():
    log, model, weights = _log_with_losses([0.9, 0.5, 0.7], keep_best=True)
    assert log.restore(finished=True) == 1
    assert torch.equal(model.weight, weights[1])


def test_keep_best_is_the_default_in_the_engine_and_the_cli():
    from tlstudio.cli import build_parser

    assert TrainConfig().keep_best is True and RunLog(nn.Linear(2, 1)).keep_best is True
    parser = build_parser()
    assert parser.parse_args(["train", "data"]).keep_best is True
    assert parser.parse_args(["train", "data", "--no-keep-best"]).keep_best is False


def test_the_most_accurate_epoch_is_kept_and_a_tie_goes_to_the_lower_loss():
    losses, accuracies = [0.60, 0.70, 0.55, 0.50, 0.90], [0.80, 0.85, 0.85, 0.84, 0.85]
    log, model, weights = _log_with_losses(losses, keep_best=True, accuracies=accuracies)
    # 0.85 is reached three times: of those, epoch 2 has the lowest loss; epoch 3's
    # lower loss does not count against its lower accuracy, nor epoch 4's later 0.85.
    assert log.restore(finished=True) == 2 == best_epoch(list(zip(range(5), losses, accuracies)))
    assert torch.equal(model.weight, weights[2])
    log, _, _ = _log_with_losses(losses[:2], keep_best=True, accuracies=accuracies[:2])
    assert log.restore(finished=True) == 1  # more accurate at a higher loss


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
    best = best_epoch(result.history)
    assert result.kept_epoch == best
    accuracies = [e.metrics["accuracy"] for e in result.history]
    assert accuracies[best] == max(accuracies)
    kept = at_epoch[best]
    assert all(torch.equal(v, kept[k]) for k, v in learn.model.state_dict().items())
    assert f"kept epoch {best + 1} (stage 1 epoch {best + 1}, " in result.message
    assert "the highest validation accuracy" in result.message


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


def test_a_harmful_stage_2_hands_back_the_heads_weights(tiny_spec, tiny_config):
    """A huge learning rate over the whole network wrecks stage 2; the run
    must hand back the head it had, measured on the returned learner."""
    config = tiny_config.with_(freeze_epochs=2, epochs=2, base_lr=5.0, lr_mult=1.0)
    assert config.keep_best  # the default, not asked for
    result = training.run(tiny_spec, config, ListReporter())
    assert result.status == "completed"
    head = [e for e in result.history if e.stage == 1]
    stage2 = [e for e in result.history if e.stage == 2]
    assert len(head) == 2 and len(stage2) == 2
    assert min(e.valid_loss for e in stage2) > 2 * max(e.valid_loss for e in head), "stage 2 should be harmful here"
    kept = result.history[result.kept_epoch]
    assert kept.stage == 1 and result.kept_epoch == best_epoch(result.history)
    valid_loss, accuracy, *_ = result.learn.validate()
    assert valid_loss == pytest.approx(kept.valid_loss, rel=1e-4)
    assert accuracy == pytest.approx(kept.metrics["accuracy"], abs=1e-6)
    assert accuracy > max(e.metrics["accuracy"] for e in stage2)
    assert f"kept epoch {kept.global_epoch + 1} (stage 1 epoch {kept.epoch + 1}, " in result.message
    assert f"the last epoch, epoch 4, ended at valid loss {stage2[-1].valid_loss:.4g}" in result.message
