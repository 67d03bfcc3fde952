"""Training on imbalanced classes: weight the loss by class, or oversample the small classes.

`TrainConfig.imbalance` picks one. "loss_weights" gives fastai's
`CrossEntropyLossFlat` a weight per class, the "balanced" weights
n_train / (n_classes * n_class) from the training split's counts, so every
class weighs as much in the loss as any other. "oversample" draws each
training batch with fastai's `WeightedDL` (through
`DataBlock.weighted_dataloaders`), each image with probability inverse to its
class's size, so an epoch sees about as many images of every class; the
epoch keeps its length.

Both reach the fast head on cached features (core/features.py): it uses the
learner's loss function, and draws its batches with the same rule when the
learner's training loader oversamples.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

NONE, LOSS_WEIGHTS, OVERSAMPLE = "none", "loss_weights", "oversample"
FIXES = (NONE, LOSS_WEIGHTS, OVERSAMPLE)
TITLES = {NONE: "None", LOSS_WEIGHTS: "Weight the loss by class", OVERSAMPLE: "Oversample the small classes"}


def check(fix: str) -> str:
    if fix not in FIXES:
        raise ValueError(f"imbalance must be one of {', '.join(FIXES)}, not {fix!r}")
    return fix


def class_weights(counts: Sequence[int]) -> list[float]:
    """Balanced weights, n / (k * n_c), for classes with counts `counts`.
    Their mean over the training images is 1, so the loss keeps its scale;
    a class without training images gets 1 (it is never a training target)."""
    present = [c for c in counts if c > 0]
    total, k = sum(present), len(present)
    return [total / (k * c) if c > 0 else 1.0 for c in counts]


def sample_weights(labels: Sequence) -> np.ndarray:
    """One weight per item, the inverse of its class's count among `labels`:
    every class is drawn equally often."""
    counts = Counter(labels)
    return np.array([1.0 / counts[label] for label in labels], dtype=np.float64)


def weighted_loss(counts: Sequence[int], device=None):
    """fastai's `CrossEntropyLossFlat` with `class_weights(counts)` on `device`
    (fastai does not move a loss function's tensors to the model's device)."""
    import torch
    from fastai.losses import CrossEntropyLossFlat

    return CrossEntropyLossFlat(weight=torch.tensor(class_weights(counts), dtype=torch.float32, device=device))


def oversamples(dl) -> bool:
    """True when `dl` draws its items by weight (fastai's WeightedDL)."""
    from fastai.callback.data import WeightedDL

    return isinstance(dl, WeightedDL)
