"""fastai DataLoaders from a DatasetSpec and an AugmentConfig.

Training reads a DataFrame through these; exported models carry the plain
fastai pipeline of inference_data.py instead, so they need none of this.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager

import numpy as np
import pandas as pd
from fastai.data.load import SkipItemException
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
from PIL import Image

from tlstudio.core.config import AugmentConfig
from tlstudio.core.dataset.image_check import ImageProblem, decode_checked
from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.events import dropped_text
from tlstudio.core.printable import printable

log = logging.getLogger(__name__)

RESIZE_METHODS = {"crop": ResizeMethod.Crop, "pad": ResizeMethod.Pad, "squish": ResizeMethod.Squish}
_recorders: list[dict[str, str]] = []  # the runs recording decode failures, innermost last
# Files this process failed to decode, with the (size, mtime) they had then: later
# DataLoaders over the same split leave them out (see `items_frame`) until the file changes.
_broken: dict[str, tuple[int, int]] = {}


@contextmanager
def recording_decode_failures(into: dict[str, str]):
    """While active, every image `open_image` drops is added to `into` as path -> reason."""
    _recorders.append(into)
    try:
        yield into
    finally:
        _recorders.remove(into)


def open_image(path) -> PILImage:
    """fastai's `PILImage.create`, decoded once and checked (`decode_checked`).

    A file that no longer decodes (replaced, cut short or made unreadable after
    the scan, which reads headers only) is dropped from its batch with fastai's
    own SkipItemException and recorded for the run's summary: one bad file
    never stops a run, and no stand-in is ever trained or validated on."""
    if isinstance(path, Image.Image):
        return PILImage.create(path)
    try:
        return PILImage.create(decode_checked(path))
    except ImageProblem as exc:
        note_decode_failure(path, exc.detail)
        raise SkipItemException(exc.detail) from None


def note_decode_failure(path, detail: str) -> None:
    """Record that `path` no longer decodes, for every run recording failures."""
    for record in _recorders:
        record.setdefault(str(path), detail)
    _broken[str(path)] = _stamp(str(path))
    log.warning("dropped %s: %s", path, detail)


def remember_undecodable(paths) -> None:
    """Files another process (the training process) failed to decode: left out here too."""
    for path in paths:
        _broken[str(path)] = _stamp(str(path))


def _stamp(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return st.st_size, st.st_mtime_ns


def _known_broken(path: str) -> bool:
    return path in _broken and _broken[path] == _stamp(path)


def dropped_note(spec: DatasetSpec, dropped: dict[str, str] | tuple[str, ...], shown: int = 3) -> str:
    """"; N images could not be decoded and were left out ..." for a run's
    summary, naming the first few and saying when validation lost some; "" when none."""
    if not dropped:
        return ""
    split_of = {str(p): s for p, s in zip(spec.items, spec.splits)}
    paths = sorted(dropped)
    valid = sum(split_of.get(p) == "valid" for p in paths)
    base = spec.data_dir or spec.root
    names = [printable(_shown(p, base)) for p in paths[:shown]]
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    note = f"; {dropped_text(len(paths))} ({', '.join(names)}{more})"
    if valid:
        total = spec.split_counts()["valid"]
        note += f"; the validation metrics cover {total - valid} of {total} validation images"
    return note


def _shown(path: str, base) -> str:
    """Relative to the dataset folder when inside it, as `tlstudio scan` shows paths."""
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel


ImageFileBlock = TransformBlock(type_tfms=open_image, batch_tfms=IntToFloatTensor)


def items_frame(spec: DatasetSpec, splits: tuple[str, ...] = ("train", "valid")) -> pd.DataFrame:
    """The items of `splits`, less those this process already failed to decode:
    fastai's `get_preds` reorders its results by the DataLoader's indices and
    breaks when an item is skipped, so a known-broken file must not be listed."""
    rows = [
        (str(p), label, split == "valid")
        for p, label, split in zip(spec.items, spec.labels, spec.splits)
        if split in splits and not (_broken and _known_broken(str(p)))
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
    oversample: bool = False,
    **loader_options,
) -> DataLoaders:
    """Train/valid DataLoaders. The batch size shrinks to the training set when
    the set is smaller, because fastai drops the last partial training batch
    and would otherwise train on nothing. `oversample`: the training loader is
    fastai's WeightedDL, drawing each class equally often (core/imbalance.py).
    `loader_options` go to fastai's `dataloaders` (training/image_reading.py:
    the image cache's loader; with `oversample` its `dl_type` is a WeightedDL)."""
    df = items_frame(spec)
    n_train = int((~df["is_valid"]).sum())
    if n_train == 0 or int(df["is_valid"].sum()) == 0:
        from tlstudio.core.dataset.spec import DatasetError

        raise DatasetError(f"{spec.root}: needs images in both the training and validation splits")
    df = _decodable_first(df, spec)
    if seed is not None:
        set_seed(seed, reproducible=True)
    block = make_datablock(spec, augment, stats)
    bs = max(1, min(bs, n_train))
    if oversample:
        import fastai.callback.data  # noqa: F401 - adds DataBlock.weighted_dataloaders

        from tlstudio.core.dataset.imbalance import sample_weights

        # Weights for every row; fastai keeps the training rows' (valid rows never draw by weight).
        train = ~df["is_valid"]
        weights = np.ones(len(df))
        weights[train.to_numpy()] = sample_weights(df.loc[train, "label"].tolist())
        if "dl_type" not in loader_options:
            return block.weighted_dataloaders(df, weights, bs=bs, num_workers=num_workers, device=device)
        # fastai's weighted_dataloaders with the loader class it is given, as its own body does it.
        dss = block.datasets(df)
        return dss.dataloaders(bs=bs, dl_kwargs=({"wgts": weights[dss.splits[0]]}, {}), after_item=block.item_tfms,
                               after_batch=block.batch_tfms, num_workers=num_workers, device=device, **loader_options)
    return block.dataloaders(df, bs=bs, num_workers=num_workers, device=device, **loader_options)


def _decodable_first(df: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """fastai decodes the first training item to set up its transforms
    (`TfmdLists.setup`), outside any batch, where SkipItemException is not
    caught. A decodable item goes first, so a broken one is dropped during
    training like any other instead of stopping the build."""
    train = df.index[~df["is_valid"]]
    for n, i in enumerate(train):
        try:
            decode_checked(df.at[i, "path"])
        except ImageProblem:
            continue
        return df if n == 0 else df.loc[[i, *df.index.drop(i)]].reset_index(drop=True)
    from tlstudio.core.dataset.spec import DatasetError

    raise DatasetError(f"{spec.root}: none of the {len(train)} training images can be decoded")


def split_dataloader(dls: DataLoaders, spec: DatasetSpec, split: str):
    """A labelled DataLoader over one split ("valid" or "test") with the valid transforms."""
    if split == "valid":
        return dls.valid
    df = items_frame(spec, splits=(split,))
    if df.empty:
        from tlstudio.core.dataset.spec import DatasetError

        raise DatasetError(f"{spec.root}: the dataset has no '{split}' split")
    return dls.test_dl(df, with_labels=True)

