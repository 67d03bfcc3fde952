"""Cancel in either stage stops within one batch and leaves a usable learner;
the chosen unfreeze depth really freezes the right layer groups."""
from __future__ import annotations

import pytest
import torch

from tlstudio.core.errors import UserFacingError
from tlstudio.core.events import BatchEnd, EpochEnd, FitEnd, ListReporter, Progress, StageStart
from tlstudio.core.training import run as training


def _weights(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _batches_after(events, trigger) -> int:
    i = next(i for i, e in enumerate(events) if e is trigger)
    return sum(isinstance(e, BatchEnd) for e in events[i + 1 :])


def _assert_usable(learn, spec, path):
    from fastai.learner import load_learner

    probs, _ = learn.get_preds(dl=learn.dls.valid)
    assert probs.shape == (len(spec.indices("valid")), len(spec.classes))
    assert torch.isfinite(probs).all()
    learn.export(path)
    assert list(load_learner(path).dls.vocab) == spec.classes


def test_cancel_in_stage1_stops_within_one_batch(tiny_spec, tiny_config, tmp_path, capsys):
    config = tiny_config.with_(fast_head=False)
    learn = training.prepare_learner(tiny_spec, config)
    start = _weights(learn.model)
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, BatchEnd) and e.stage == 1 and e.batch == 1)
    result = training.run(tiny_spec, config, reporter, learn=learn)

    trigger = next(e for e in reporter.events if isinstance(e, BatchEnd) and e.batch == 1)
    assert _batches_after(reporter.events, trigger) <= 1
    assert not [e for e in reporter.events if isinstance(e, StageStart) and e.stage == 2]
    assert result.status == "cancelled" and result.kept_epoch is None and result.history == []
    assert reporter.of_type(FitEnd) == [FitEnd("cancelled", "", None, result.message)]
    assert result.message.startswith("Cancelled in stage 1 epoch 1")
    # No epoch completed: the half-trained head is dropped, the starting weights come back.
    assert _same(_weights(learn.model), start)
    assert capsys.readouterr().out == ""
    _assert_usable(learn, tiny_spec, tmp_path / "cancelled.pkl")


def test_cancel_while_caching_features(tiny_spec, tiny_config):
    training.prepare_learner(tiny_spec, tiny_config)  # the image cache exists, as after any earlier run
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, Progress) and e.done == 2)
    result = training.run(tiny_spec, tiny_config, reporter)
    assert result.status == "cancelled" and result.kept_epoch is None
    assert [e.done for e in reporter.of_type(Progress)] == [1, 2]
    assert not reporter.of_type(StageStart)
    assert "while caching features" in result.message


def test_cancel_in_stage2_keeps_the_last_completed_epoch(tiny_spec, tiny_config, tmp_path):
    config = tiny_config.with_(epochs=2)
    learn = training.prepare_learner(tiny_spec, config)
    at_epoch = {}

    def watch(e):
        if isinstance(e, EpochEnd):
            at_epoch[e.global_epoch] = _weights(learn.model)
        if isinstance(e, BatchEnd) and e.stage == 2 and e.batch == 1:
            at_epoch["at cancel"] = _weights(learn.model)
            return True
        return False

    reporter = ListReporter(cancel_when=watch)
    result = training.run(tiny_spec, config, reporter, learn=learn)

    trigger = next(e for e in reporter.events if isinstance(e, BatchEnd) and (e.stage, e.batch) == (2, 1))
    assert _batches_after(reporter.events, trigger) <= 1
    assert result.status == "cancelled"
    assert [e.global_epoch for e in result.history] == [0]
    assert result.kept_epoch == 0
    # Epochs are named as the epoch tables number them, from 1.
    first = result.history[0]
    assert result.message == (
        "Cancelled in stage 2 epoch 1; kept epoch 1 (stage 1 epoch 1, valid loss %.4g, accuracy %.3f): "
        "the highest validation accuracy, and the last completed epoch" % (first.valid_loss, first.metrics["accuracy"])
    )
    # The two unfrozen batches moved the weights; the kept ones are those of stage 1's end.
    assert not _same(at_epoch["at cancel"], at_epoch[0])
    assert _same(_weights(learn.model), at_epoch[0])
    _assert_usable(learn, tiny_spec, tmp_path / "cancelled.pkl")


def _is_norm(module_params, p) -> bool:
    return any(p is q for q in module_params)


@pytest.mark.parametrize("depth", [2, None])
def test_unfreeze_depth_leaves_the_right_groups_frozen(tiny_spec, tiny_config, depth):
    from torch import nn

    from tlstudio.core.models.groups import layer_groups

    config = tiny_config.with_(freeze_epochs=0, epochs=1, unfreeze_depth=depth)
    learn = training.prepare_learner(tiny_spec, config)
    with pytest.raises(UserFacingError):
        training.run(tiny_spec, config.with_(unfreeze_depth=0), ListReporter(), learn=learn)

    norm_params = [p for m in learn.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) for p in m.parameters()]
    before = [[p.detach().clone() for p in group] for group in learn.opt.param_lists]
    seen = {}

    def after_first_step(e):
        if isinstance(e, BatchEnd):
            seen["requires_grad"] = [[p.requires_grad for p in group] for group in learn.opt.param_lists]
            seen["changed"] = [
                [not torch.equal(p, b) for p, b in zip(group, old)] for group, old in zip(learn.opt.param_lists, before)
            ]
            seen["groups"] = layer_groups(learn)
            seen["bn_training"] = {id(p): m.training for m in learn.model.modules()
                                   if isinstance(m, nn.modules.batchnorm._BatchNorm) for p in m.parameters()}
            return True
        return False

    reporter = ListReporter(cancel_when=after_first_step)
    training.run(tiny_spec, config, reporter, learn=learn)

    n = len(learn.opt.param_lists)
    trainable = n if depth is None else depth
    start = next(e for e in reporter.events if isinstance(e, StageStart))
    assert start.trainable_groups == trainable and start.total_groups == n
    for i, group in enumerate(learn.opt.param_lists):
        grads, changed = seen["requires_grad"][i], seen["changed"][i]
        if i >= n - trainable:
            assert all(grads), f"group {i} should train"
            assert seen["groups"][i].trainable
        else:
            # Frozen whole, BatchNorm included: no gradient, no change, and
            # its BatchNorm layers normalise with their pretrained statistics.
            assert not any(grads) and not any(changed), f"a frozen parameter of group {i} changed"
            assert not seen["groups"][i].trainable
            norms = [p for p in group if _is_norm(norm_params, p)]
            assert norms and not any(seen["bn_training"][id(p)] for p in norms)
    assert any(seen["changed"][n - 1]), "the head took an optimizer step"


def test_a_failure_mid_run_returns_the_last_good_weights(tiny_spec, tiny_config, capsys):
    learn = training.prepare_learner(tiny_spec, tiny_config)
    at_epoch = {}

    class Broken(ListReporter):
        def emit(self, event):
            super().emit(event)
            if isinstance(event, EpochEnd):
                at_epoch[event.global_epoch] = _weights(learn.model)
            if isinstance(event, BatchEnd) and event.stage == 2:
                raise RuntimeError("disk full")

    reporter = Broken()
    result = training.run(tiny_spec, tiny_config, reporter, learn=learn)
    assert result.status == "failed" and result.kept_epoch == 0
    assert reporter.of_type(FitEnd)[-1].error == "RuntimeError: disk full"
    assert result.message.startswith("Failed in stage 2 epoch 1: RuntimeError: disk full; kept epoch 1 (stage 1 epoch 1,")
    assert _same(_weights(learn.model), at_epoch[0])
    # Driven by a reporter, fastai prints neither progress bars nor its epoch table.
    assert capsys.readouterr().out == ""
