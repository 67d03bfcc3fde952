"""The architectures TL Studio trains: name, source, size, layer groups and the
normalisation their pretrained weights expect.

The registry imports neither torch nor fastai, so the window can list
architectures before those load. Building a learner is `models.learner`'s,
layer groups and their learning rates are `models.groups`'s.

Unfreeze depth: stage 2 of training calls `learn.freeze_to(depth_to_freeze_to(depth,
n_groups))`, i.e. `freeze_to(-depth)`: the last `depth` layer groups train (the head
counts as one), and a depth of all groups is `unfreeze()`.
"""
from __future__ import annotations

from dataclasses import dataclass

from tlstudio.core.errors import UserFacingError
from tlstudio.core.models.splitters import SPLITS

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class ArchInfo:
    name: str
    source: str  # "torchvision" | "timm"
    params: int  # total parameters of the ImageNet model (checked against a built model by a test)
    input_size: int  # default square input size in pixels
    n_groups: int  # fastai layer groups with our splitter: what `freeze_to` counts
    mean: tuple[float, float, float] = IMAGENET_MEAN  # normalisation the pretrained weights expect
    std: tuple[float, float, float] = IMAGENET_STD
    cut: int | None = None  # torchvision only: fastai `create_body` cut (children kept)

    @property
    def group_names(self) -> tuple[str, ...]:
        return SPLITS[self.name].names

    @property
    def params_m(self) -> float:
        return self.params / 1e6


def _tv(name: str, params: int, cut: int = -2) -> ArchInfo:
    return ArchInfo(name, "torchvision", params, 224, SPLITS[name].n_groups, cut=cut)


ARCHS: dict[str, ArchInfo] = {
    a.name: a
    for a in (
        _tv("resnet18", 11_689_512),
        _tv("resnet34", 21_797_672),
        _tv("resnet50", 25_557_032),
        _tv("mobilenet_v2", 3_504_872, cut=-1),  # children: features, classifier
        _tv("mobilenet_v3_large", 5_483_032),
        _tv("efficientnet_b0", 5_288_548),
        _tv("vgg16_bn", 138_365_992),
        _tv("convnext_tiny", 28_589_128),
        ArchInfo("tf_efficientnet_lite0", "timm", 4_652_008, 224, SPLITS["tf_efficientnet_lite0"].n_groups,
                 INCEPTION_MEAN, INCEPTION_STD),
    )
}
DEFAULT_ARCH = "mobilenet_v2"


def get_arch(name: str) -> ArchInfo:
    try:
        return ARCHS[name]
    except KeyError:
        raise UserFacingError(f"unknown architecture {name!r}; choose one of: {', '.join(ARCHS)}") from None
