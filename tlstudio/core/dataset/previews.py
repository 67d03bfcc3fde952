"""Augmentation previews as uint8 arrays, produced by fastai's own pipeline.

Nothing here re-implements a transform: the images go through the same
`DataBlock` the training run builds (`data.make_datablock`), its item
transforms on the training split, then its batch transforms (`aug_transforms`,
`Normalize`), and come back through the pipeline's own `decode`.

Building DataLoaders costs far more than running a batch, so the loaders are
cached per dataset and item resize; a change of augmentation only builds a new
batch pipeline, which is cheap.
"""
from __future__ import annotations

import random
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from fastai.vision.all import DataLoaders, Pipeline

from tlstudio.core.config import AugmentConfig
from tlstudio.core.dataset.loaders import items_frame, make_datablock
from tlstudio.core.dataset.spec import DatasetError, DatasetSpec

_CACHE_SIZE = 2
_cache: OrderedDict = OrderedDict()  # (id(spec), n_items, size, resize_method) -> (spec, DataLoaders)
_cache_lock = threading.Lock()
_rng_lock = threading.Lock()


def preview_loaders(spec: DatasetSpec, augment: AugmentConfig) -> DataLoaders:
    """CPU DataLoaders for previews, shared by every augmentation with the same resize."""
    key = (id(spec), len(spec.items), augment.size, augment.resize_method)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is spec:
            _cache.move_to_end(key)
            return hit[1]
    df = items_frame(spec)
    # Which spec item each row is, so a preview tile can name its image.
    df["spec_index"] = [i for i, split in enumerate(spec.splits) if split in ("train", "valid")]
    if not (~df["is_valid"]).any():
        raise DatasetError(f"{spec.root}: no training images to preview")
    if not df["is_valid"].any():
        # The splitter needs a validation item; previews only ever read the training split.
        df.loc[df.index[-1], "is_valid"] = True
    dls = make_datablock(spec, augment).dataloaders(df, bs=1, num_workers=0, device=torch.device("cpu"))
    with _cache_lock:
        _cache[key] = (spec, dls)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return dls


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def preview_loader(spec: DatasetSpec, augment: AugmentConfig, **kwargs):
    """The cached training loader with the batch transforms `augment` asks for,
    exactly as the DataBlock lists them. Setting the device moves the
    transforms' statistics (`Normalize`) onto the CPU along with the batches."""
    dls = preview_loaders(spec, augment)
    after_batch = Pipeline(make_datablock(spec, augment).batch_tfms)
    dl = dls.train.new(after_batch=after_batch, **kwargs)
    dl.to(torch.device("cpu"))
    # Iterating does this; the 3x3 grid calls the pipelines directly and needs
    # the training split's random transforms switched on the same way.
    dl.before_iter()
    return dl


def augmented_grid(
    spec: DatasetSpec, augment: AugmentConfig, item_index: int, n: int = 9, seed: int | None = None
) -> np.ndarray:
    """`n` augmented versions of image `item_index` of `spec`: (n, H, W, 3) uint8.

    The item transforms (the resize, a random crop on the training split) run
    once, so the grid shows what the batch augmentations do to one image; the
    batch is that item repeated `n` times, as fastai's `show_batch(unique=True)` does.
    """
    if not 0 <= item_index < len(spec.items):
        raise DatasetError(f"{spec.root}: there is no image number {item_index} (the dataset has {len(spec.items)})")
    dl = preview_loader(spec, augment)
    with _seeded(seed), _one_thread():
        item = dl.after_item(_dataset_item(dl.dataset, spec, item_index))
        batch = dl.after_batch(dl.do_batch([item] * n))
        images = dl.after_batch.decode(batch)[0]
    return _to_uint8(images)


def batch_grid(
    spec: DatasetSpec, augment: AugmentConfig, n: int = 16, seed: int | None = None
) -> tuple[np.ndarray, list[str]]:
    """A shuffled training batch as the model sees it, like `show_batch`: (images, labels)."""
    sample = batch_sample(spec, augment, n, seed)
    return sample.images, sample.labels


@dataclass(frozen=True)
class BatchSample:
    images: np.ndarray  # (n, H, W, 3) uint8, decoded
    labels: list[str]
    item_indices: list[int]  # index into spec.items of each image


def batch_sample(spec: DatasetSpec, augment: AugmentConfig, n: int = 16, seed: int | None = None) -> BatchSample:
    """`batch_grid` plus which dataset image each tile is. The batch is made the
    way fastai's DataLoader makes one when iterating (shuffled indices,
    `do_item`, `do_batch`, `after_batch`), so the indices are known."""
    dl = preview_loader(spec, augment)
    with _seeded(seed), _one_thread():
        dl.rng = random.Random(random.randint(0, 2**32 - 1))
        order = dl.shuffle_fn(list(range(len(dl.dataset))))[:n]
        xb, yb = dl.after_batch(dl.do_batch([dl.do_item(i) for i in order]))
        images = dl.after_batch.decode((xb,))[0]
    labels = [str(dl.vocab[int(y)]) for y in yb]
    rows = dl.dataset.items
    return BatchSample(_to_uint8(images), labels, [int(rows.iloc[i]["spec_index"]) for i in order])


def pipeline_summary(spec: DatasetSpec, augment: AugmentConfig, arch: str | None = None) -> list[str]:
    """Human lines naming every fastai transform the training split applies, in
    order; `Normalize` with the statistics `arch`'s weights expect, as training
    uses them (ImageNet's when `arch` is None)."""
    stats = None
    if arch is not None:
        from tlstudio.core.models.registry import get_arch

        info = get_arch(arch)
        stats = (list(info.mean), list(info.std))
    block = make_datablock(spec, augment, stats)
    return [f"item: {_describe(t)}" for t in block.item_tfms] + [
        f"batch: {_describe(t)}" for t in Pipeline(block.batch_tfms).fs
    ]


def _describe(tfm) -> str:
    name = type(tfm).__name__
    if name == "Normalize":
        mean = [round(float(v), 3) for v in tfm.mean.flatten()]
        std = [round(float(v), 3) for v in tfm.std.flatten()]
        return f"Normalize(mean={mean}, std={std})"
    # aug_transforms merges all affine, warp and lighting steps into one
    # transform each (setup_aug_tfms); name the steps merged into it.
    parts = [getattr(f, "func", f).__name__.removesuffix("_mat") for f in getattr(tfm, "aff_fs", None) or []]
    parts += [type(f).__name__.strip("_").removesuffix("Coord").removesuffix("Logit").lower()
              for f in (getattr(tfm, "coord_fs", None) or []) + (getattr(tfm, "fs", None) or [])]
    return f"{name} ({', '.join(parts)})" if parts else name


def _dataset_item(dataset, spec: DatasetSpec, index: int) -> tuple:
    """`spec.items[index]` through the dataset's own type transforms (any split, test included)."""
    row = pd.Series({"path": str(spec.items[index]), "label": spec.labels[index], "is_valid": False})
    return tuple(tl.tfms(row) for tl in dataset.tls)


def _to_uint8(images) -> np.ndarray:
    arr = images.detach().cpu().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return np.ascontiguousarray(arr)


@contextmanager
def _one_thread():
    """Preview batches are tiny: torch's intra-op threads cost more in hand-offs
    than they save, badly so on a busy CPU (both previews of the demo set at
    128 px: 0.27 s on one thread, 1.0 s on two, 2-core machine under load).
    With torch's OpenMP backend the setting belongs to the calling thread, so
    a training run in another thread keeps its threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def _seeded(seed: int | None):
    """fastai's random transforms draw from Python's `random` and torch's
    generator; seed both for the preview, then give the rest of the process
    its streams back."""
    if seed is None:
        yield
        return
    with _rng_lock, torch.random.fork_rng(devices=[]):
        state = random.getstate()
        random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(state)
