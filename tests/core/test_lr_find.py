"""The LR finder: the whole curve, four suggestions on it, weights restored bit for bit, cancel, stage 2."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tlstudio.core.events import ListReporter, LrFindProgress, Message
from tlstudio.core.training.lr_find import find_lr, run_lr_find

NAMES = ("valley", "slide", "minimum", "steep")
# A short sweep keeps the test quick; the range stops before the loss can
# diverge, so the curve is long enough for all four of fastai's rules.
SWEEP = dict(start_lr=1e-6, end_lr=0.1, num_it=24)


@pytest.fixture(scope="module")
def learn(tiny_spec, tiny_config):
    from tlstudio.core.training.run import prepare_learner

    return prepare_learner(tiny_spec, tiny_config)


def snapshot(learn) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in learn.model.state_dict().items()}


def assert_same_weights(learn, before):
    after = learn.model.state_dict()
    assert after.keys() == before.keys()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == []


def trainable_groups(learn) -> list[bool]:
    """Per layer group: do its weight tensors train? (fastai keeps BatchNorm's
    1-d parameters trainable in frozen groups, so those are not counted.)"""
    return [any(p.requires_grad for p in group if p.ndim > 1) for group in learn.splitter(learn.model)]


def test_curve_and_four_suggestions_on_it(learn, tiny_spec):
    from fastai.torch_core import set_seed

    set_seed(0)  # the same batches whatever tests ran before
    learn.freeze()
    before = snapshot(learn)
    path_before = learn.path
    reporter = ListReporter()

    result = run_lr_find(learn, reporter, **SWEEP)

    assert not result.cancelled and result.skipped == ()
    n = len(result.lrs)
    assert 16 <= n <= SWEEP["num_it"]
    assert len(result.losses) == len(result.smooth_losses) == n
    assert np.all(np.diff(result.lrs) > 0), "the finder's rates grow exponentially"
    assert result.lrs[0] == pytest.approx(SWEEP["start_lr"])
    assert np.isfinite(result.losses).all() and np.isfinite(result.smooth_losses).all()

    assert [s.name for s in result.suggestions] == list(NAMES)
    for s in result.suggestions:
        assert result.lrs.min() <= s.point_lr <= result.lrs.max(), s
        assert result.smooth_losses.min() <= s.point_loss <= result.smooth_losses.max(), s
        if s.name != "slide":  # slide interpolates between two recorded points
            i = int(np.argmin(np.abs(result.lrs - s.point_lr)))
            assert s.point_lr == pytest.approx(result.lrs[i]) and s.point_loss == pytest.approx(result.smooth_losses[i])
    minimum = result.suggestion("minimum")
    assert minimum.lr == pytest.approx(minimum.point_lr / 10)
    assert minimum.point_loss == pytest.approx(result.smooth_losses[SWEEP["num_it"] // 10 : n - 5].min())
    for name in ("valley", "slide", "steep"):
        assert result.suggestion(name).lr == result.suggestion(name).point_lr

    progress = reporter.of_type(LrFindProgress)
    assert [p.iteration for p in progress] == list(range(1, n + 1))
    assert [p.lr for p in progress] == pytest.approx(result.lrs.tolist())
    assert all(p.total == SWEEP["num_it"] for p in progress)

    assert_same_weights(learn, before)
    assert learn.path == path_before
    assert not (learn.path / learn.model_dir).exists(), "the temp weights must not land next to the user's data"


def test_cancel_stops_within_one_batch_and_restores_weights(learn):
    learn.freeze()
    before = snapshot(learn)
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, LrFindProgress) and e.iteration == 5)

    result = run_lr_find(learn, reporter, **SWEEP)

    assert result.cancelled
    assert len(reporter.of_type(LrFindProgress)) == 5 and len(result.lrs) == 5
    # Five points are too few for fastai's rules: each one is skipped with a reason.
    assert {s.name for s in result.suggestions} | {name for name, _ in result.skipped} == set(NAMES)
    assert all(reason for _, reason in result.skipped)
    assert len(reporter.of_type(Message)) == len(result.skipped)
    assert_same_weights(learn, before)


def test_stage2_after_unfreezing_probes_more_groups(learn, tiny_spec, tiny_config):
    before = snapshot(learn)
    assert trainable_groups(learn)[-1] and not any(trainable_groups(learn)[:-1])
    reporter = ListReporter()
    result = find_lr(tiny_spec, tiny_config, unfreeze_depth=2, stage=2, learn=learn, reporter=reporter, num_it=8, end_lr=1e-2)
    groups = trainable_groups(learn)
    assert groups[-2:] == [True, True] and not any(groups[:-2]), groups
    assert (result.stage, result.depth) == (2, 2)
    assert len(result.lrs) == 8 and not result.cancelled
    # A sweep this short is too short for some of fastai's rules: skipped, not crashed.
    assert {s.name for s in result.suggestions} | {name for name, _ in result.skipped} == set(NAMES)
    for s in result.suggestions:
        assert result.lrs.min() <= s.point_lr <= result.lrs.max()
    assert_same_weights(learn, before)

    find_lr(tiny_spec, tiny_config, stage=1, learn=learn, num_it=6)
    assert trainable_groups(learn) == [False] * (len(groups) - 1) + [True]
    assert_same_weights(learn, before)


def test_an_error_mid_sweep_still_restores_weights(learn):
    from fastai.callback.core import Callback

    class FailsOnThirdBatch(Callback):
        order = 70

        def after_batch(self):
            if self.training and self.train_iter == 3:
                raise RuntimeError("simulated failure")

    learn.freeze()
    before = snapshot(learn)
    with learn.added_cbs([FailsOnThirdBatch()]), pytest.raises(RuntimeError, match="simulated failure"):
        run_lr_find(learn, **SWEEP)
    assert_same_weights(learn, before)


def test_stage1_probes_the_head_on_cached_features_and_restores_it(learn, tiny_spec, tiny_config):
    from tlstudio.core.events import Progress
    from tlstudio.core.training.features import TASK

    learn.unfreeze()  # whatever state it was left in, stage 1 probes the head alone
    before = snapshot(learn)
    body_calls = []
    hook = learn.model[0].register_forward_hook(lambda *_: body_calls.append(1))
    reporter = ListReporter()
    try:
        result = find_lr(tiny_spec, tiny_config, stage=1, learn=learn, reporter=reporter, **SWEEP)
    finally:
        hook.remove()
    caching = [e for e in reporter.of_type(Progress) if e.task == TASK]
    # The body ran once per batch of the caching pass, never per finder step.
    assert caching and caching[-1].done == caching[-1].total == len(body_calls)
    assert len(body_calls) < SWEEP["num_it"]
    assert (result.stage, result.depth) == (1, 1) and not result.cancelled
    assert len(result.lrs) >= 16 and [s.name for s in result.suggestions] == list(NAMES)
    assert_same_weights(learn, before)
    assert trainable_groups(learn) == [False] * (len(trainable_groups(learn)) - 1) + [True]

    # Without the fast head, the finder steps through the whole network.
    body_calls.clear()
    hook = learn.model[0].register_forward_hook(lambda *_: body_calls.append(1))
    try:
        find_lr(tiny_spec, tiny_config.with_(fast_head=False), stage=1, learn=learn, num_it=8, end_lr=1e-2)
    finally:
        hook.remove()
    assert len(body_calls) >= 8
    assert_same_weights(learn, before)


def test_cancel_while_caching_features_returns_an_empty_cancelled_result(learn, tiny_spec, tiny_config):
    from tlstudio.core.events import Progress

    before = snapshot(learn)
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, Progress))
    result = find_lr(tiny_spec, tiny_config, stage=1, learn=learn, reporter=reporter, **SWEEP)
    assert result.cancelled and len(result.lrs) == 0 and result.suggestions == ()
    assert not reporter.of_type(LrFindProgress)
    assert_same_weights(learn, before)
