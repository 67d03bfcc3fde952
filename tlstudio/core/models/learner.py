"""The fastai learner for an architecture of the registry, with our pretrained weights and layer groups."""
from __future__ import annotations

from tlstudio.core.models.registry import ARCHS, get_arch
from tlstudio.core.models.splitters import SPLITS
from tlstudio.core.models.weights import OFFLINE, WeightsUnavailable, resolve_weights


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
