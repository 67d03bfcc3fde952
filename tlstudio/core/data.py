"""fastai DataLoaders from a DatasetSpec and an AugmentConfig.

Training reads a DataFrame through these; exported models carry the plain
fastai pipeline of inference_data.py instead, so they need none of this.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from fastai.vision.all import (
    CategoryBlock,
    ColReader,
    ColSplitter,
    DataBlock,
    DataLoaders,
    IntToFloatTensor,
    Normalize,
    PILImage,
    Resize,
    ResizeMethod,
    TransformBlock,
    aug_transforms,
    imagenet_stats,
    set_seed,
)

from tlstudio.core.config import AugmentConfig
from tlstudio.core.dataset import DatasetSpec

log = logging.getLogger(__name__)

RESIZE_METHODS = {"crop": ResizeMethod.Crop, "pad": ResizeMethod.Pad, "squish": ResizeMethod.Squish}
_PLACEHOLDER_SIZE = (32, 32)


def open_image(path) -> PILImage:
    """fastai's `PILImage.create`, except that a file that fails to decode
    becomes a black placeholder and a logged warning: one corrupt image must
    never stop a training run (scanning reads headers only, so a truncated
    file can still reach this point)."""
    try:
        img = PILImage.create(path)
        img.load()
        return img
    except Exception as exc:  # PIL raises many types for broken files
        log.warning("could not decode %s (%s); using a blank image", path, exc)
        return PILImage.create(_blank())


def _blank():
    from PIL import Image

    return Image.new("RGB", _PLACEHOLDER_SIZE)


ImageFileBlock = TransformBlock(type_tfms=open_image, batch_tfms=IntToFloatTensor)


def items_frame(spec: DatasetSpec, splits: tuple[str, ...] = ("train", "valid")) -> pd.DataFrame:
    rows = [
        (str(p), label, split == "valid")
        for p, label, split in zip(spec.items, spec.labels, spec.splits)
        if split in splits
    ]
    return pd.DataFrame(rows, columns=["path", "label", "is_valid"])


def item_tfms(augment: AugmentConfig) -> list:
    return [Resize(augment.size, method=RESIZE_METHODS[augment.resize_method])]


def batch_tfms(augment: AugmentConfig, stats=None) -> list:
    """`stats`: (mean, std) the pretrained weights expect; ImageNet's when None."""
    tfms = []
    if augment.enabled:
        rrc = augment.min_scale < 1.0
        tfms += aug_transforms(
            do_flip=augment.do_flip,
            flip_vert=augment.flip_vert,
            max_rotate=augment.max_rotate,
            min_zoom=augment.min_zoom,
            max_zoom=augment.max_zoom,
            max_lighting=augment.max_lighting,
            max_warp=augment.max_warp,
            p_affine=augment.p_affine,
            p_lighting=augment.p_lighting,
            size=augment.size if rrc else None,
            min_scale=augment.min_scale,
        )
    if augment.normalize == "imagenet":
        tfms.append(Normalize.from_stats(*(stats or imagenet_stats)))
    return tfms


def make_datablock(spec: DatasetSpec, augment: AugmentConfig, stats=None) -> DataBlock:
    return DataBlock(
        blocks=(ImageFileBlock, CategoryBlock(vocab=spec.classes)),
        get_x=ColReader("path"),
        get_y=ColReader("label"),
        splitter=ColSplitter("is_valid"),
        item_tfms=item_tfms(augment),
        batch_tfms=batch_tfms(augment, stats),
    )


def make_dataloaders(
    spec: DatasetSpec,
    augment: AugmentConfig,
    *,
    bs: int = 32,
    seed: int | None = 42,
    num_workers: int = 0,
    device=None,
    stats=None,
) -> DataLoaders:
    """Train/valid DataLoaders. The batch size shrinks to the training set when
    the set is smaller, because fastai drops the last partial training batch
    and would otherwise train on nothing."""
    df = items_frame(spec)
    n_train = int((~df["is_valid"]).sum())
    if n_train == 0 or int(df["is_valid"].sum()) == 0:
        from tlstudio.core.dataset import DatasetError

        raise DatasetError(f"{spec.root}: needs images in both the training and validation splits")
    if seed is not None:
        set_seed(seed, reproducible=True)
    return make_datablock(spec, augment, stats).dataloaders(
        df, bs=max(1, min(bs, n_train)), num_workers=num_workers, device=device
    )


def split_dataloader(dls: DataLoaders, spec: DatasetSpec, split: str):
    """A labelled DataLoader over one split ("valid" or "test") with the valid transforms."""
    if split == "valid":
        return dls.valid
    df = items_frame(spec, splits=(split,))
    if df.empty:
        from tlstudio.core.dataset import DatasetError

        raise DatasetError(f"{spec.root}: the dataset has no '{split}' split")
    return dls.test_dl(df, with_labels=True)

