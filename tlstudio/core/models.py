"""Architecture registry, learner construction, layer groups and their learning rates.

The registry (`ARCHS`, `get_arch`) imports neither torch nor fastai, so the
window can list architectures before those load; `build_learner` and the group
helpers import them when called.

Unfreeze depth: stage 2 of training calls `learn.freeze_to(depth_to_freeze_to(depth,
n_groups))`, i.e. `freeze_to(-depth)`: the last `depth` layer groups train (the head
counts as one), and a depth of all groups is `unfreeze()`. fastai keeps the
normalisation layers of frozen groups trainable (`train_bn=True`).
"""
from __future__ import annotations

from dataclasses import dataclass

from tlstudio.core.errors import UserFacingError
from tlstudio.core.splitters import SPLITS, group_names
from tlstudio.core.weights import (
    OFFLINE,
    WeightsUnavailable,
    resolve_weights,
    weights_available,
)

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

    def weights_status(self) -> str | None:
        """Where this machine has its pretrained weights now ("hub cache",
        "offline (package ...)"), or None when they are not on this machine."""
        return weights_available(self.name)

    def weights_label(self) -> str:
        return self.weights_status() or "not on this machine"


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


def offline_packages() -> dict[str, str]:
    """Architecture -> pip package that ships its weights for offline use."""
    return {arch: p.distribution for arch, p in OFFLINE.items()}


class TorchvisionArch:
    """The callable `vision_learner` receives for a torchvision architecture.

    fastai calls `arch(weights=meta['weights'])` when pretrained, else
    `arch(weights=None)`. We build the torchvision model without weights and load
    the state dict our resolver found, so fastai never downloads on its own and a
    pretrained model is never silently random. Equality and hashing go by name,
    so the `model_meta` entry registered for the name applies; pickling keeps only
    the name (an exported learner holds `learn.arch`).
    """

    def __init__(self, name: str, state_dict: dict | None = None):
        self.name = name
        self._state_dict = state_dict

    def __call__(self, weights=None, **kwargs):
        import torchvision.models as tvm

        model = getattr(tvm, self.name)(weights=None, **kwargs)
        if weights is not None:
            if self._state_dict is None:
                raise WeightsUnavailable(f"pretrained weights for {self.name} were asked for but not resolved")
            model.load_state_dict(self._state_dict, strict=True)
            self._state_dict = None  # the model holds them now; don't keep a second copy
        return model

    def __eq__(self, other):
        return isinstance(other, TorchvisionArch) and other.name == self.name

    def __hash__(self):
        return hash(("TorchvisionArch", self.name))

    def __reduce__(self):
        return (TorchvisionArch, (self.name,))

    def __repr__(self):
        return f"TorchvisionArch({self.name!r})"


def register_model_meta() -> None:
    """Tell fastai how to cut and split our torchvision architectures.

    fastai 2.8.12's `vision_learner` accepts `cut=` but never passes it on to
    `create_vision_model` (fastai issue #4027), so the cut must come from
    `fastai.vision.learner.model_meta`. This is the one place we register it.
    """
    from fastai.vision.all import imagenet_stats
    from fastai.vision.learner import model_meta

    for info in ARCHS.values():
        if info.source == "torchvision":
            model_meta[TorchvisionArch(info.name)] = {
                "cut": info.cut,
                "split": SPLITS[info.name].splitter,
                "stats": imagenet_stats,
                "weights": "DEFAULT",
            }


def build_learner(dls, arch: str, *, pretrained: bool = True, weights_file=None, metrics=None,
                  reporter=None, allow_download: bool = True, **kwargs):
    """A fastai `Learner` from `vision_learner` with our layer groups.

    With `pretrained=True` the weights come from `resolve_weights` (or
    `WeightsUnavailable` is raised); `pretrained=False` trains from scratch.
    Other keyword arguments go to `vision_learner` (loss_func, cbs, path, wd, ...).
    """
    from fastai.vision.all import vision_learner

    info = get_arch(arch)
    split = SPLITS[arch]
    state_dict = None
    if pretrained:
        source = resolve_weights(arch, weights_file=weights_file, allow_download=allow_download, reporter=reporter)
        state_dict = source.state_dict()
    if info.source == "torchvision":
        register_model_meta()
        learn = vision_learner(dls, TorchvisionArch(arch, state_dict), pretrained=pretrained,
                               splitter=split.splitter, metrics=metrics, **kwargs)
    else:
        if pretrained:
            # timm's own loading path: a state dict passed through the pretrained config
            # (timm drops the 1000-class classifier itself, since fastai asks for no classes).
            kwargs["pretrained_cfg_overlay"] = {"state_dict": dict(state_dict)}
        learn = vision_learner(dls, arch, pretrained=pretrained, splitter=split.splitter, metrics=metrics, **kwargs)
        # vision_learner keeps its keyword arguments as learner attributes and timm keeps the
        # overlay in the model's config: drop both so an export doesn't pickle the weights twice.
        learn.model[0].model.pretrained_cfg.pop("state_dict", None)
        learn.__dict__.pop("pretrained_cfg_overlay", None)
    learn.weights_origin = source.origin if pretrained else "none (random init)"
    return learn


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
