"""Layer groups per architecture: every parameter in exactly one group, real
stage cuts, and fastai's freeze_to/slice semantics over them."""
from __future__ import annotations

import pytest
from fixtures_models import meta_learner, tiny_dls  # noqa: F401

from tlstudio.core.models.groups import depth_to_freeze_to, discriminative_lrs, layer_groups
from tlstudio.core.models.registry import ARCHS
from tlstudio.core.models.splitters import SPLITS, group_names


def _norm_param_ids(model) -> set[int]:
    from fastai.torch_core import norm_bias_params

    return {id(p) for p in norm_bias_params(model, with_bias=False)}


@pytest.mark.parametrize("arch", list(ARCHS))
def test_every_parameter_is_in_exactly_one_group(tiny_dls, arch):
    learn = meta_learner(tiny_dls, arch)
    groups = learn.splitter(learn.model)
    info = ARCHS[arch]
    assert len(groups) == info.n_groups == len(info.group_names) == 5
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)), "a parameter is in two groups"
    assert set(ids) == {id(p) for p in learn.model.parameters()}, "a parameter is in no group"
    assert all(groups), "empty layer group"
    assert [id(p) for p in groups[-1]] == [id(p) for p in learn.model[1].parameters()], "last group must be the head"
    # Stages grow deeper: the first group is the small stem, not the bulk of the body.
    sizes = [sum(p.numel() for p in g) for g in groups[:-1]]
    assert sizes[0] < sizes[-1]
    names = [g.name for g in layer_groups(learn)]
    assert names == list(info.group_names) and names[-1] == "head"


@pytest.mark.parametrize("arch", list(ARCHS))
def test_freeze_to_depth_trains_exactly_the_last_groups(tiny_dls, arch):
    learn = meta_learner(tiny_dls, arch)
    norm = _norm_param_ids(learn.model)
    n = ARCHS[arch].n_groups
    for depth in range(1, n + 1):
        learn.freeze_to(depth_to_freeze_to(depth, n))
        groups = learn.splitter(learn.model)
        for i, group in enumerate(groups):
            if i >= n - depth:
                assert all(p.requires_grad for p in group), (depth, i)
            else:  # frozen, except normalisation layers (fastai's train_bn=True)
                assert all(p.requires_grad == (id(p) in norm) for p in group), (depth, i)
        trainable = [g.trainable for g in layer_groups(learn)]
        assert trainable == [False] * (n - depth) + [True] * depth


def test_depth_to_freeze_to():
    assert depth_to_freeze_to(1, 5) == -1
    assert depth_to_freeze_to(3, 5) == -3
    assert depth_to_freeze_to(5, 5) == 0
    assert depth_to_freeze_to(None, 5) == 0
    with pytest.raises(Exception, match="at least 1"):
        depth_to_freeze_to(0, 5)


def test_discriminative_lrs_match_what_fastai_sets(tiny_dls):
    from fastai.callback.training import ShortEpochCallback

    from tlstudio.core.models.learner import build_learner

    learn = build_learner(tiny_dls, "mobilenet_v2", pretrained=True)
    learn.freeze_to(-3)
    lr_max, lr_mult = 3e-3, 100
    with learn.no_bar(), learn.no_logging():  # one real training step is enough: fit sets the hypers first
        learn.fit(1, slice(lr_max / lr_mult, lr_max), cbs=ShortEpochCallback(pct=0.01, short_valid=True))
    assert learn.train_iter >= 1  # the optimizer really stepped with these rates
    applied = [h["lr"] for h in learn.opt.hypers]
    expected = discriminative_lrs(learn, lr_max, lr_mult)
    assert expected == pytest.approx(applied, rel=1e-12)
    assert expected[0] == pytest.approx(lr_max / lr_mult) and expected[-1] == pytest.approx(lr_max)
    assert discriminative_lrs(5, lr_max, lr_mult) == expected
    assert discriminative_lrs(5, 1e-3, 1) == pytest.approx([1e-3] * 5)


def test_unknown_splitter_gets_generic_names():
    assert group_names(lambda m: m, 3) == ("group 1", "group 2", "head")
    assert group_names(SPLITS["resnet18"].splitter, 5)[0] == "stem + stage 1"
