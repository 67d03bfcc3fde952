"""Layer groups of a learner and the learning rate of each: what `freeze_to` and a slice count."""
from __future__ import annotations

from dataclasses import dataclass

from tlstudio.core.errors import UserFacingError
from tlstudio.core.models.splitters import group_names


@dataclass(frozen=True)
class GroupInfo:
    index: int
    name: str
    n_params: int
    trainable: bool  # every parameter trains (frozen groups keep only norm layers trainable)


def layer_groups(learn) -> list[GroupInfo]:
    groups = learn.splitter(learn.model)
    names = group_names(learn.splitter, len(groups))
    return [
        GroupInfo(i, names[i], sum(p.numel() for p in ps), bool(ps) and all(p.requires_grad for p in ps))
        for i, ps in enumerate(groups)
    ]


def n_layer_groups(learn_or_n_groups) -> int:
    if isinstance(learn_or_n_groups, int):
        return learn_or_n_groups
    opt = getattr(learn_or_n_groups, "opt", None)
    if opt is not None:
        return len(opt.param_lists)
    return len(learn_or_n_groups.splitter(learn_or_n_groups.model))


def depth_to_freeze_to(depth: int | None, n_groups: int) -> int:
    """The argument for `learn.freeze_to` that trains the last `depth` groups
    (head included); None or a depth covering every group gives 0 (`unfreeze`)."""
    if depth is None or depth >= n_groups:
        return 0
    if depth < 1:
        raise UserFacingError(f"unfreeze depth must be at least 1 (the head), got {depth}")
    return -depth


def discriminative_lrs(learn_or_n_groups, lr_max: float, lr_mult: float) -> list[float]:
    """Peak learning rate per layer group for `slice(lr_max / lr_mult, lr_max)`,
    exactly as fastai's `Optimizer.set_hyper` spreads a slice (`even_mults`)."""
    from fastcore.basics import even_mults

    n = n_layer_groups(learn_or_n_groups)
    if lr_mult <= 0:
        raise UserFacingError(f"learning-rate multiplier must be positive, got {lr_mult}")
    start = lr_max / lr_mult
    if n == 1:
        return [float(lr_max)]
    # fastai treats a zero/None slice start as "stop/10 for the body"; a positive start is log-spaced.
    return [float(v) for v in even_mults(start, lr_max, n)]
