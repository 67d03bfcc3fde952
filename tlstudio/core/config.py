"""Configuration the GUI and the CLI hand to the engine: plain frozen dataclasses."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass(frozen=True)
class AugmentConfig:
    """fastai's item resize plus `aug_transforms` arguments, and normalization."""

    size: int = 128
    resize_method: str = "crop"  # "crop" | "pad" | "squish" (fastai ResizeMethod)
    enabled: bool = True  # False: no batch augmentation at all
    do_flip: bool = True
    flip_vert: bool = False
    max_rotate: float = 10.0
    min_zoom: float = 1.0
    max_zoom: float = 1.1
    max_lighting: float = 0.2
    max_warp: float = 0.2
    p_affine: float = 0.75
    p_lighting: float = 0.75
    min_scale: float = 1.0  # < 1.0 turns on random resized crop in aug_transforms
    # "imagenet": the statistics the pretrained weights expect (ImageNet's for
    # torchvision models; training uses each architecture's own) | "none"
    normalize: str = "imagenet"

    def with_(self, **changes) -> "AugmentConfig":
        return replace(self, **changes)


AUGMENT_PRESETS: dict[str, AugmentConfig] = {
    "none": AugmentConfig(enabled=False),
    "light": AugmentConfig(max_rotate=5.0, max_zoom=1.05, max_lighting=0.1, max_warp=0.0, p_affine=0.5, p_lighting=0.5),
    "fastai default": AugmentConfig(),
    "strong": AugmentConfig(
        max_rotate=20.0, max_zoom=1.3, max_lighting=0.4, max_warp=0.3, p_affine=0.9, p_lighting=0.9, min_scale=0.6
    ),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs besides the dataset itself."""

    arch: str = "mobilenet_v2"
    pretrained: bool = True
    weights_file: Path | None = None  # a user-imported .pth for `arch`
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # 64, fastai's loaders' own default: on the quality benchmark's four datasets
    # (CPU) a run at 64 took 0.6-0.7 of the time it took at 32, for 0-2 points of
    # test accuracy (docs/benchmarks.md, "Model quality"). Small sets get fewer
    # (the loaders clamp it to the training images).
    bs: int = 64
    # Stage 1: body frozen, head trained with fit_one_cycle(freeze_epochs, head_lr).
    # fastai's fine_tune uses 1. On cached features (fast_head) a head epoch
    # costs about a second, and 3 of them reach the plain fine_tune(3) recipe's
    # final accuracy in 15% of its time (docs/benchmarks.md, "Training").
    freeze_epochs: int = 3
    head_lr: float | None = 2e-3  # None: the same as base_lr
    # Stage 2: freeze_to(-unfreeze_depth) (None: unfreeze all) then
    # fit_one_cycle(epochs, slice(base_lr / lr_mult, base_lr)): base_lr is the
    # top rate that runs. The two defaults are fastai's own fine_tune(epochs):
    # 2e-3 for the head, then 2e-3 / 2 unfrozen. Unfreezing at the head's
    # full 2e-3 instead made the first unfrozen epoch on the demo set collapse
    # (valid loss 0.83 -> 3.03, accuracy 0.79 -> 0.51; at 1e-3: 0.92, 0.75).
    # Two unfrozen epochs: the stage that costs (forward and backward through the
    # body); with the fast head before them, the run takes about half the plain
    # fine_tune(3) recipe's time and stays well above its accuracy
    # (docs/benchmarks.md, "Model quality"). A third adds 1-3 points.
    epochs: int = 2
    unfreeze_depth: int | None = None
    # On: stage 2 trains the depth core/model_choice.recommend_depth advises
    # for this dataset, the compute and the head's accuracy, and says so;
    # `unfreeze_depth` is then only what the Model page shows. Off: exactly
    # `unfreeze_depth`. Setting `unfreeze_depth` with `with_` turns it off
    # unless `auto_depth=True` is passed too: a depth someone sets is theirs.
    auto_depth: bool = True
    base_lr: float = 1e-3
    lr_mult: float = 100.0
    fast_head: bool = True  # train stage 1 on cached body features when possible
    # Restore the most accurate epoch (the lower valid loss breaks a tie): a
    # run never hands back a model worse than one it already had.
    keep_best: bool = True
    early_stopping_patience: int | None = None  # epochs without improvement
    seed: int | None = 42
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "mps"
    num_workers: int = 0
    # Decode once (dataset/image_cache.py): every image decoded and resized a
    # single time into a memory-mapped file in the user cache folder, and
    # batches read from it. Off: decoded every epoch, as fastai does.
    image_cache: bool = True
    # Disk budget for all image caches together; a cache that would not fit
    # is not made and the run decodes every epoch instead (and says so).
    image_cache_max_gb: float = 20.0
    # On CUDA: the batch size the free GPU memory allows (training/device_setup.py)
    # instead of `bs`.
    auto_bs: bool = False
    valid_pct: float = 0.2  # used only when the dataset has no split folders
    # Class imbalance: "none" | "loss_weights" (class-weighted loss) |
    # "oversample" (small classes drawn more often); core/imbalance.py.
    imbalance: str = "none"

    def with_(self, **changes) -> "TrainConfig":
        if "unfreeze_depth" in changes:
            changes.setdefault("auto_depth", False)
        return replace(self, **changes)

    @property
    def stage1_lr(self) -> float:
        return self.head_lr if self.head_lr is not None else self.base_lr
