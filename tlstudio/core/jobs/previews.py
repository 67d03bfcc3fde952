"""What the Augment and Model pages show, computed where fastai lives: augmentation previews,
an architecture's layer groups, its inference speed."""
from __future__ import annotations

import sys
from dataclasses import dataclass

from tlstudio.core.config import AugmentConfig
from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.events import Progress

PREVIEW_BATCH = 16


def _loading(reporter, stage: str) -> None:
    if "fastai.vision.all" not in sys.modules:
        reporter.emit(Progress(stage, 0, 0, "Loading fastai…"))


@dataclass(frozen=True)
class PreviewJob:
    """Both previews for one config: nine augmentations of one image and a training batch."""

    spec: DatasetSpec
    augment: AugmentConfig
    item_index: int
    seed: int
    arch: str | None = None

    def __call__(self, reporter) -> dict | None:
        _loading(reporter, "preview")
        from tlstudio.core.dataset import previews

        reporter.emit(Progress("preview", 0, 0, "Running the pipeline…"))
        grid = previews.augmented_grid(self.spec, self.augment, self.item_index, n=9, seed=self.seed)
        if reporter.cancel_requested():
            return None
        batch = previews.batch_sample(self.spec, self.augment, n=PREVIEW_BATCH, seed=self.seed)
        return {
            "augment": self.augment,
            "item_index": self.item_index,
            "seed": self.seed,
            "grid": grid,
            "batch": batch.images,
            "labels": batch.labels,
            "batch_items": batch.item_indices,
            "arch": self.arch,
            "pipeline": previews.pipeline_summary(self.spec, self.augment, self.arch),
        }


@dataclass(frozen=True)
class LayerGroupsJob:
    """`arch`'s fastai layer groups with a head sized for the dataset's classes: (arch, groups)."""

    spec: DatasetSpec
    augment: AugmentConfig
    arch: str

    def __call__(self, reporter) -> tuple[str, list]:
        _loading(reporter, "groups")
        from tlstudio.core.dataset.previews import preview_loaders
        from tlstudio.core.training.advice import arch_groups

        return self.arch, arch_groups(preview_loaders(self.spec, self.augment), self.arch)


@dataclass(frozen=True)
class SpeedJob:
    """Inference images/s of `arch` on the training device: (arch, images per second, device)."""

    spec: DatasetSpec
    augment: AugmentConfig
    arch: str

    def __call__(self, reporter) -> tuple[str, float, str]:
        _loading(reporter, "speed")
        from tlstudio.core.dataset.previews import preview_loaders
        from tlstudio.core.training.device import choose_device
        from tlstudio.core.training.speed import measure_speed

        device = choose_device("auto")
        speed = measure_speed(preview_loaders(self.spec, self.augment), self.arch, device=device, reporter=reporter)
        return self.arch, speed, device.type
