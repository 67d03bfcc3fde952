"""Layer groups per architecture: where `freeze_to` and discriminative learning
rates cut the model.

fastai's own splits give torchvision resnets 3 groups and everything else 2
(body, head), which leaves no real choice of unfreeze depth. These splitters cut
the body at its stages (the points where the feature map shrinks), so each
group is a meaningful level of features, and the head is always the last group.

Every splitter takes the model `vision_learner` builds, `nn.Sequential(body,
head)`, where the body comes from fastai's `create_body` (torchvision, cut at
the model_meta `cut` registered in `models.py`) or is fastai's `TimmBody`
(timm). They are module-level functions so an exported learner pickles them by
name. This module imports nothing heavy: the registry reads `SPLITS` before
torch is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


def _with_head(model, *body_groups) -> list[list]:
    groups = [[p for module in group for p in module.parameters()] for group in body_groups]
    return groups + [list(model[1:].parameters())]


def resnet_split(m):
    b = m[0]  # conv1, bn1, relu, maxpool, layer1, layer2, layer3, layer4
    return _with_head(m, [b[:5]], [b[5]], [b[6]], [b[7]])


def mobilenet_v2_split(m):
    f = m[0][0]  # features: stem, 17 inverted residuals, final 1x1 conv
    return _with_head(m, [f[:4]], [f[4:7]], [f[7:14]], [f[14:]])


def mobilenet_v3_large_split(m):
    f = m[0][0]  # features: stem, 15 inverted residuals, final 1x1 conv
    return _with_head(m, [f[:4]], [f[4:7]], [f[7:13]], [f[13:]])


def efficientnet_b0_split(m):
    f = m[0][0]  # features: stem, 7 MBConv stages, final 1x1 conv
    return _with_head(m, [f[:3]], [f[3:4]], [f[4:6]], [f[6:]])


def vgg16_bn_split(m):
    f = m[0][0]  # features: 5 conv blocks, each ending in a max-pool (indices 6, 13, 23, 33, 43)
    return _with_head(m, [f[:14]], [f[14:24]], [f[24:34]], [f[34:]])


def convnext_tiny_split(m):
    f = m[0][0]  # features: stem, stage, downsample, stage, downsample, stage, downsample, stage
    return _with_head(m, [f[:2]], [f[2:4]], [f[4:6]], [f[6:]])


def tf_efficientnet_lite0_split(m):
    t = m[0].model  # timm EfficientNet inside fastai's TimmBody
    return _with_head(
        m,
        [t.conv_stem, t.bn1, t.blocks[:2]],
        [t.blocks[2:4]],
        [t.blocks[4:6]],
        [t.blocks[6:], t.conv_head, t.bn2],
    )


STAGES = ("stem + stage 1", "stage 2", "stage 3", "stage 4", "head")
STAGES_FINAL_CONV = ("stem + stage 1", "stage 2", "stage 3", "stage 4 + final conv", "head")


@dataclass(frozen=True)
class ArchSplit:
    splitter: Callable
    names: tuple[str, ...]  # one human name per layer group, head last

    @property
    def n_groups(self) -> int:
        return len(self.names)


SPLITS: dict[str, ArchSplit] = {
    "resnet18": ArchSplit(resnet_split, STAGES),
    "resnet34": ArchSplit(resnet_split, STAGES),
    "resnet50": ArchSplit(resnet_split, STAGES),
    "mobilenet_v2": ArchSplit(mobilenet_v2_split, STAGES_FINAL_CONV),
    "mobilenet_v3_large": ArchSplit(mobilenet_v3_large_split, STAGES_FINAL_CONV),
    "efficientnet_b0": ArchSplit(efficientnet_b0_split, STAGES_FINAL_CONV),
    "vgg16_bn": ArchSplit(vgg16_bn_split, ("conv blocks 1-2", "conv block 3", "conv block 4", "conv block 5", "head")),
    "convnext_tiny": ArchSplit(convnext_tiny_split, STAGES),
    "tf_efficientnet_lite0": ArchSplit(tf_efficientnet_lite0_split, STAGES_FINAL_CONV),
}


def group_names(splitter: Callable, n_groups: int) -> tuple[str, ...]:
    """Names for the groups a splitter makes; generic names for a splitter we do not know."""
    for split in SPLITS.values():
        if split.splitter is splitter and split.n_groups == n_groups:
            return split.names
    return tuple(f"group {i + 1}" for i in range(n_groups - 1)) + ("head",)
