"""Fast head training: while the body is frozen, run it once over the data and
train fastai's head on the cached features instead of the whole network.

The body (`learn.model[0]`) runs in eval mode over the training images with
the validation transforms (resize, normalize; no random augmentation), and the
head's leading parameter-free layers (fastai's concat pooling and flatten) run
once too, so only small pooled vectors are kept. The head's remaining layers,
the SAME module objects as in `learn.model[1]`, are then trained with fastai's
own `fit_one_cycle` on a throwaway Learner over those vectors; stage 2
continues from exactly these weights.

Before caching, the BatchNorm layers of the body groups that stage 2 will
train get this data's statistics (`adapt_depth`): stage 2 trains them in
train mode, where their running statistics move to the data's within one
epoch, and a head fitted on the pretrained statistics then met other features
and the first unfrozen epoch collapsed. The frozen groups keep their
pretrained statistics, in eval mode through stage 2 too (training._stage2).

This differs from the plain recipe in measured ways (docs/benchmarks.md,
"Stage 2 after the fast head"): the frozen groups' BatchNorm statistics stay
at their pretrained values instead of drifting with `train_bn`, and stage 1
sees each training image once per epoch without augmentation.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from fastai.learner import Learner
from torch import nn

from tlstudio.core.events import Cancelled, Progress, Reporter
from tlstudio.core.training.device_setup import autocast

# Above this many bytes of cached features the plain recipe is used instead.
MAX_FEATURE_BYTES = 1 << 30
TASK = "Caching body features"
# Training batches (augmented, shuffled, as stage 2 sees them) that estimate
# the statistics of the BatchNorm layers stage 2 will train.
ADAPT_BATCHES = 16
# Below this many training images the estimate is noise (at 32 px the last
# group's feature maps are 1 x 1): on 36 images it cost the head 25 points
# (0.917 -> 0.667), so the pretrained statistics stay.
ADAPT_MIN_IMAGES = 256


@dataclass
class FeatureSet:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor


def parameter_free_prefix(head: nn.Module) -> int:
    """How many leading layers of `head` hold no parameters or buffers
    (pooling, flatten): their output is as cacheable as the body's."""
    if not isinstance(head, nn.Sequential):
        return 0
    n = 0
    for layer in head:
        if any(True for _ in layer.parameters()) or any(True for _ in layer.buffers()):
            break
        if isinstance(layer, nn.Dropout):
            break
        n += 1
    return n


def trainable_head(learn: Learner) -> nn.Sequential:
    """The layers of `learn.model[1]` that train on cached features (shared, not copied)."""
    head = learn.model[1]
    k = parameter_free_prefix(head)
    return nn.Sequential(*list(head)[k:]) if k else nn.Sequential(head)


def trained_batchnorms(learn: Learner, depth: int | None) -> list[nn.Module]:
    """The body's BatchNorm layers in the last `depth` layer groups (None: all)."""
    groups = learn.splitter(learn.model)
    ids = {id(p) for group in (groups if depth is None else groups[-depth:]) for p in group}
    return [
        m for m in learn.model[0].modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and any(id(p) in ids for p in m.parameters())
    ]


def _adapt_batchnorm(learn: Learner, layers: list[nn.Module], step) -> None:
    """Replace `layers`' running statistics by their average over the first
    ADAPT_BATCHES training batches (the rest of the body in eval mode)."""
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches seen
        m.train()
    try:
        for i, (xb, _) in enumerate(learn.dls.train):
            if i >= ADAPT_BATCHES:
                break
            learn.model[0](xb)
            step()
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
            m.eval()


def cache_features(
    learn: Learner, reporter: Reporter, max_bytes: int = MAX_FEATURE_BYTES, adapt_depth: int | None = 0
) -> FeatureSet | None:
    """Body (+ parameter-free head prefix) outputs for the training and
    validation images, on the learner's device. None when they would not fit in
    `max_bytes`. First, unless `adapt_depth` is 0 or there are fewer than
    ADAPT_MIN_IMAGES training images, the BatchNorm layers of the last
    `adapt_depth` groups (None: all) take this data's statistics. Raises
    `Cancelled` when the reporter asks to stop."""
    body, head = learn.model[0], learn.model[1]
    prefix = nn.Sequential(*list(head)[: parameter_free_prefix(head)])
    dls = learn.dls
    train_dl = dls.test_dl(dls.train.items, with_labels=True)  # valid transforms, fixed order
    loaders = [train_dl, dls.valid]
    n_items = len(train_dl.dataset) + len(dls.valid.dataset)
    enough = len(dls.train.dataset) >= ADAPT_MIN_IMAGES
    adapt = trained_batchnorms(learn, adapt_depth) if adapt_depth != 0 and enough else []
    n_adapt = min(ADAPT_BATCHES, len(dls.train)) if adapt else 0
    total, done = n_adapt + sum(len(dl) for dl in loaders), 0
    was_training = learn.model.training
    learn.model.eval()
    out = []

    def step():
        nonlocal done
        if reporter.cancel_requested():
            raise Cancelled()
        done += 1
        reporter.emit(Progress(TASK, done, total))

    try:
        with torch.no_grad(), autocast(learn):  # as the learner's mixed precision trains (CUDA only)
            if adapt:
                _adapt_batchnorm(learn, adapt, step)
            for dl in loaders:
                xs, ys = [], []
                for xb, yb in dl:
                    if reporter.cancel_requested():
                        raise Cancelled()
                    feats = prefix(body(xb)).float()
                    # Too large: stage 1 then trains through the network with
                    # train_bn, which moves these statistics anyway.
                    if not xs and feats[0].numel() * feats.element_size() * n_items > max_bytes:
                        return None
                    xs.append(feats)
                    ys.append(yb.as_subclass(torch.Tensor))
                    step()
                out += [torch.cat(xs), torch.cat(ys)]
    finally:
        learn.model.train(was_training)
    return FeatureSet(*out)


def head_learner(learn: Learner, features: FeatureSet, metrics) -> Learner:
    """A fastai Learner whose model is the trainable part of `learn`'s head and
    whose data are the cached features; same loss (class weights included),
    optimizer and weight decay. When `learn`'s training loader oversamples the
    small classes, so does this one (core/imbalance.py)."""
    from tlstudio.core.dataset import imbalance

    device = features.x_train.device
    bs = min(learn.dls.train.bs, len(features.x_train))
    pairs = list(zip(features.x_train, features.y_train))
    if imbalance.oversamples(learn.dls.train):
        from fastai.callback.data import WeightedDL

        weights = imbalance.sample_weights(features.y_train.tolist())
        train = WeightedDL(pairs, bs=bs, shuffle=True, drop_last=True, device=device, wgts=weights)
    else:
        train = DataLoader(pairs, bs=bs, shuffle=True, drop_last=True, device=device)
    valid = DataLoader(list(zip(features.x_valid, features.y_valid)), bs=learn.dls.valid.bs, device=device)
    return Learner(
        DataLoaders(train, valid, device=device),
        trainable_head(learn),
        loss_func=learn.loss_func,
        opt_func=learn.opt_func,
        metrics=metrics,
        wd=learn.wd,
        wd_bn_bias=learn.wd_bn_bias,
        train_bn=learn.train_bn,
        moms=learn.moms,
    )
