"""The slow pass: the pretrained backbone's pooled features of every image.

It runs the feature cache of fast head training (`tlstudio.core.training.features`)
over the whole dataset: train, valid and test alike, in the dataset's order,
with the validation transforms (resize and normalise, no augmentation).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.events import Reporter


@dataclass(frozen=True)
class FeatureConfig:
    arch: str = "mobilenet_v2"
    size: int = 128  # square input size in pixels, as training resizes
    bs: int = 64
    device: str = "auto"
    weights_file: object = None  # a user-imported .pth for `arch`
    image_cache: bool = True  # read the images through the decode-once cache (TrainConfig.image_cache)


def backbone_features(spec: DatasetSpec, config: FeatureConfig, reporter: Reporter) -> np.ndarray | None:
    """(n, d) float32 pooled features in `spec.items` order; None when they
    would not fit in memory. Raises `Cancelled` when the reporter asks to stop
    and `WeightsUnavailable` when the pretrained weights are not on this machine."""
    import torch

    from tlstudio.core.config import AugmentConfig, TrainConfig
    from tlstudio.core.training.features import cache_features
    from tlstudio.core.training.run import prepare_learner

    n = len(spec.items)
    # The cache covers the learner's training then validation items, in order:
    # one item in valid (the loaders need one) and the rest in train keeps the
    # dataset's order end to end.
    everything = replace(spec, splits=["train"] * (n - 1) + ["valid"])
    train_config = TrainConfig(arch=config.arch, weights_file=config.weights_file, bs=config.bs,
                               augment=AugmentConfig(size=config.size, enabled=False),
                               device=config.device, seed=0, image_cache=config.image_cache)
    learn = prepare_learner(everything, train_config, reporter, for_training=False)
    cached = cache_features(learn, reporter)
    if cached is None:
        return None
    return torch.cat([cached.x_train, cached.x_valid]).cpu().numpy().astype(np.float32, copy=False)
