"""Fast head on cached body features: the same head module, faithful features, sane accuracy."""
from __future__ import annotations

import torch

from tlstudio.core.events import EpochEnd, NullReporter, StageStart
from tlstudio.core.training.features import cache_features, parameter_free_prefix, trainable_head


def test_stage1_ran_on_cached_features_and_trained_the_learners_own_head(trained_run):
    learn = trained_run.result.learn
    start = next(e for e in trained_run.events if isinstance(e, StageStart) and e.stage == 1)
    assert "cached features" in start.name
    assert learn.model[1] is trained_run.head
    stage1_end, stage2_start = trained_run.head_at["stage 1 end"], trained_run.head_at["stage 2 start"]
    changed = [k for k, v in stage1_end.items() if not torch.equal(v, trained_run.head_before[k])]
    assert any(k.endswith("weight") for k in changed), "stage 1 trained the head"
    # Stage 2 continued from exactly the head stage 1 trained.
    assert all(torch.equal(v, stage2_start[k]) for k, v in stage1_end.items())


def test_fast_head_reaches_a_sane_accuracy(trained_run):
    stage1 = [e for e in trained_run.events if isinstance(e, EpochEnd) and e.stage == 1]
    # 3 clearly different classes (bag, sneaker, trouser), 4 valid images each; chance is 1/3.
    assert stage1[-1].metrics["accuracy"] >= 0.66, stage1[-1]


def test_the_trained_part_shares_the_heads_parameters(trained_result):
    head = trained_result.learn.model[1]
    k = parameter_free_prefix(head)
    assert k == 2  # fastai's AdaptiveConcatPool2d and Flatten hold no parameters
    shared = list(trainable_head(trained_result.learn).parameters())
    assert [id(p) for p in shared] == [id(p) for p in head.parameters()]


def test_cached_features_give_the_full_models_predictions(trained_result, tiny_spec):
    learn = trained_result.learn
    feats = cache_features(learn, NullReporter())
    assert len(feats.x_train) == len(tiny_spec.indices("train"))
    assert len(feats.x_valid) == len(tiny_spec.indices("valid"))
    probs, targets = learn.get_preds(dl=learn.dls.valid)
    tail = trainable_head(learn).eval()
    with torch.no_grad():
        from_features = torch.softmax(tail(feats.x_valid), dim=1)
    assert torch.allclose(from_features, probs, atol=1e-5)
    assert torch.equal(feats.y_valid, targets.as_subclass(torch.Tensor))


def test_features_too_large_to_cache_fall_back(trained_result):
    assert cache_features(trained_result.learn, NullReporter(), max_bytes=1) is None


def _bn_buffers(learn, depth):
    from tlstudio.core.training.features import trained_batchnorms

    return [torch.cat([m.running_mean, m.running_var]).clone() for m in trained_batchnorms(learn, depth)]


def test_caching_gives_the_groups_stage_2_trains_this_datas_batchnorm_statistics(tiny_spec, tiny_config, monkeypatch):
    from tlstudio.core.training import features
    from tlstudio.core.training.features import ADAPT_BATCHES, trained_batchnorms
    from tlstudio.core.training.run import prepare_learner

    learn = prepare_learner(tiny_spec, tiny_config)
    before = _bn_buffers(learn, None)
    cache_features(learn, NullReporter(), adapt_depth=2)  # 36 images: too few, the pretrained statistics stay
    assert len(tiny_spec.indices("train")) < features.ADAPT_MIN_IMAGES
    assert all(torch.equal(a, b) for a, b in zip(before, _bn_buffers(learn, None)))
    monkeypatch.setattr(features, "ADAPT_MIN_IMAGES", 1)
    every = _bn_buffers(learn, None)
    adapted = _bn_buffers(learn, 2)
    assert 0 < len(adapted) < len(every)
    feats = cache_features(learn, NullReporter(), adapt_depth=2)
    after = _bn_buffers(learn, None)
    n_frozen = len(every) - len(adapted)
    assert all(torch.equal(a, b) for a, b in zip(every[:n_frozen], after[:n_frozen])), "frozen groups keep theirs"
    assert all(not torch.equal(a, b) for a, b in zip(adapted, after[n_frozen:])), "trained groups take the data's"
    assert all(m.momentum == 0.1 for m in trained_batchnorms(learn, None)), "momentum restored"
    assert ADAPT_BATCHES >= len(learn.dls.train)  # the tiny set: every training batch
    # The head is fitted on what the whole model computes with these statistics.
    probs, _ = learn.get_preds(dl=learn.dls.valid)
    with torch.no_grad():
        from_features = torch.softmax(trainable_head(learn).eval()(feats.x_valid), dim=1)
    assert torch.allclose(from_features, probs, atol=1e-5)


def test_stage_2_leaves_the_frozen_groups_batchnorm_statistics_pretrained(trained_result, tiny_spec, tiny_config):
    from tlstudio.core.training.run import prepare_learner

    fresh = prepare_learner(tiny_spec, tiny_config)
    depth = trained_result.config.unfreeze_depth
    n_frozen = len(_bn_buffers(fresh, None)) - len(_bn_buffers(fresh, depth))
    pretrained, trained = _bn_buffers(fresh, None)[:n_frozen], _bn_buffers(trained_result.learn, None)[:n_frozen]
    assert n_frozen > 0 and all(torch.equal(a, b) for a, b in zip(pretrained, trained))
