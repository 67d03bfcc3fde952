"""fastai DataLoaders that read the decode-once image cache (image_cache.py).

`CachedImageDL` is fastai's own `TfmdDL` over the same `Datasets` as today's
pipeline (loaders.make_datablock: the same items, labels, vocab and transforms),
so `dls.train`, `dls.valid`, `test_dl`, `show_batch` and `decode` work as
always. Only the way a batch is made differs: instead of decoding and resizing
item by item, a batch is the cache's rows for its indices (uint8
`TensorImage`, B x 3 x H x W, the labels as `TensorCategory`), and the same
`after_batch` (IntToFloatTensor, augmentation, Normalize) then runs on the
whole batch on the training device. On CUDA the batch is copied from pinned
memory without blocking.

A loader whose items the cache does not hold (a `test_dl` of new files, a
file that failed to decode) or whose item transforms are not the cache's
(another size or resize method) falls back to fastai's item-by-item path: the
cache is never used for what it was not made for.
"""
from __future__ import annotations

import numpy as np
import torch
from fastai.callback.data import WeightedDL
from fastai.data.core import TfmdDL
from fastai.data.transforms import Categorize, ColReader
from fastai.torch_core import TensorCategory, TensorImage
from fastai.vision.augment import Resize
from fastai.vision.core import ToTensor

from tlstudio.core.dataset import image_cache

_OPENERS = ("open_image", "PILBase.create")


class CachedImageDL(TfmdDL):
    """`TfmdDL` whose batches are index lookups into an `ImageCache`."""

    def __init__(self, dataset=None, image_cache=None, **kwargs):
        self.image_cache = image_cache  # before TfmdDL's setup, which may make a batch
        self._lookup_for = None
        # A lookup costs less than starting a worker, and a memory map would
        # be copied into each one; its batches are pinned here on CUDA.
        kwargs.update(num_workers=0, pin_memory=False)
        super().__init__(dataset, **kwargs)

    def new(self, dataset=None, cls=None, **kwargs):
        kwargs.setdefault("image_cache", self.image_cache)
        res = super().new(dataset, cls, **kwargs)
        if (dataset is None or dataset is self.dataset) and self._lookup_for is not None:
            res._lookup_for = self._lookup_for
        return res

    def _lookup(self):
        """(rows, targets or None) for this loader's items, or None when the
        cache cannot serve this loader."""
        if self.image_cache is None or not self._reads_cache_size():
            return None
        if self._lookup_for is None or self._lookup_for[0] is not self.dataset:
            self._lookup_for = (self.dataset, _rows_and_targets(self.dataset, self.image_cache))
        return self._lookup_for[1]

    def _reads_cache_size(self) -> bool:
        fs = list(getattr(self.after_item, "fs", []))
        resizes = [t for t in fs if isinstance(t, Resize)]
        others = [t for t in fs if not isinstance(t, (Resize, ToTensor))]
        if len(resizes) != 1 or others:
            return False
        r, c = self.image_cache, resizes[0]
        return tuple(c.size) == (r.size, r.size) and str(c.method) == r.method

    def do_item(self, s):
        if self._lookup() is None:
            return super().do_item(s)
        return 0 if s is None else s  # an index: the pixels come a batch at a time

    def create_batch(self, b):
        lookup = self._lookup()
        if lookup is None:
            return super().create_batch(b)
        rows, targets = lookup
        idx = np.asarray(b, dtype=np.int64)
        # fastai's Resize crops at a random position unless split_idx is 1 (validation).
        train = not getattr(self.dataset, "split_idx", None)
        x = torch.from_numpy(self.image_cache.batch(rows[idx], train=train))
        ys = () if targets is None else (torch.from_numpy(targets[idx]),)
        if self.device is not None and self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
            ys = tuple(y.pin_memory().to(self.device, non_blocking=True) for y in ys)
            # B x H x W x 3 seen as B x 3 x H x W is channels_last in memory, as the GPU path wants.
            x = x.permute(0, 3, 1, 2)
        else:  # the memory layout fastai's collate gives, so the CPU's convolutions round alike
            x = x.permute(0, 3, 1, 2).contiguous()
        x = TensorImage(x)
        return (x, *(TensorCategory(y) for y in ys))

    def retain(self, res, b):
        return res if self._lookup() is not None else super().retain(res, b)


class WeightedCachedImageDL(CachedImageDL, WeightedDL):
    """`CachedImageDL` drawing its training items by weight, as fastai's
    `WeightedDL` does (class oversampling, dataset/imbalance.py)."""


def _rows_and_targets(ds, cache):
    tls = getattr(ds, "tls", None)
    if not tls:
        return None
    paths = _item_paths(tls[0])
    rows = None if paths is None else cache.rows_for(paths)
    if rows is None:
        return None
    targets = _targets(tls[1]) if len(tls) > 1 else None
    if len(tls) > 1 and targets is None:
        return None
    return rows, targets


def _item_paths(tl):
    """The file each item of the image TfmdLists reads, or None when its
    pipeline is not a path reader followed by the image opener."""
    fs = list(tl.tfms.fs)
    names = [getattr(f, "name", getattr(f, "__name__", "")) for f in fs]
    at = next((i for i, n in enumerate(names) if n in _OPENERS), None)
    if at is None or at != len(fs) - 1:
        return None
    readers, items = fs[:at], tl.items
    if not readers:
        return [str(p) for p in items]
    col = _plain_column(readers, items)
    return None if col is None else items[col].astype(str).tolist()


def _plain_column(readers, items):
    if len(readers) != 1 or not isinstance(readers[0], ColReader) or not hasattr(items, "columns"):
        return None
    r = readers[0]
    if len(r.cols) != 1 or r.pref or r.suff or r.label_delim is not None or r.cols[0] not in items.columns:
        return None
    return r.cols[0]


def _targets(tl):
    """Class indices of the label TfmdLists' items, as its pipeline gives them."""
    fs = list(tl.tfms.fs)
    if fs and isinstance(fs[-1], Categorize):
        col = _plain_column(fs[:-1], tl.items)
        if col is not None:
            o2i = fs[-1].vocab.o2i
            try:
                return np.asarray([o2i[v] for v in tl.items[col]], dtype=np.int64)
            except KeyError:
                return None
    return np.asarray([int(tl[i]) for i in range(len(tl))], dtype=np.int64)


def with_existing_cache(dl, spec):
    """`dl` reading the image cache a training run left for `spec` at `dl`'s
    own size and resize method, when there is one and it holds every item;
    else `dl` itself. For a loaded model, which has no training config: a
    cache is only ever opened here, never built."""
    from tlstudio.core.config import AugmentConfig

    resize = next((t for t in getattr(dl.after_item, "fs", []) if isinstance(t, Resize)), None)
    if resize is None or resize.size[0] != resize.size[1] or str(resize.method) not in ("crop", "pad", "squish"):
        return dl
    plan = plan_for(spec, AugmentConfig(size=int(resize.size[0]), resize_method=str(resize.method)))
    path = image_cache.cache_folder() / plan.file_name()
    if not path.exists():
        return dl
    try:
        cached = dl.new(cls=CachedImageDL, image_cache=image_cache.ImageCache(path, plan))
    except image_cache.CacheCorrupt:
        return dl
    return cached if cached._lookup() is not None else dl


def cache_failures(dls) -> dict[str, str]:
    """Files the cache could not decode (path -> reason), left out of every loader."""
    cache = getattr(getattr(dls, "train", None), "image_cache", None)
    return dict(cache.failed) if cache is not None else {}


def plan_for(spec, augment, for_training: bool = True) -> image_cache.CachePlan:
    """The cache plan for `spec`'s train, valid and test items at `augment`'s size and resize method."""
    from tlstudio.core.dataset.image_check import check_image

    idx = [i for i, s in enumerate(spec.splits) if s in ("train", "valid", "test")]
    paths = [str(spec.items[i]) for i in idx]
    random_train = [for_training and spec.splits[i] == "train" for i in idx]
    if len(spec.sizes) == len(spec.items):
        sizes = [tuple(spec.sizes[i]) for i in idx]
    else:  # a spec built by hand: the headers say
        sizes = [(c.width, c.height) for c in (check_image(p) for p in paths)]
    return image_cache.plan_cache(paths, sizes, augment.size, augment.resize_method, random_train)
