"""How a run reads its images: through the decode-once image cache
(dataset/image_cache.py, read by dataset/cached_loader.py) or, when the cache
is off or would not fit its disk budget, decoded every epoch as fastai does.

It lives with training rather than with the dataset because under torchrun
the first process builds the cache and the others open it (distributed.py).
"""
from __future__ import annotations

from pathlib import Path

from tlstudio.core.dataset import image_cache, image_cache_budget
from tlstudio.core.dataset.cached_loader import CachedImageDL, WeightedCachedImageDL, plan_for
from tlstudio.core.dataset.imbalance import OVERSAMPLE
from tlstudio.core.events import Cancelled, Message


def loader_options(spec, config, device, reporter, *, for_training: bool = True) -> tuple[dict, str]:
    """DataLoader options for `make_dataloaders`, and one line saying how images are read.

    With `config.image_cache` on, the cache for the dataset at this size and
    resize method (built now if needed); off, or when it would not fit
    `config.image_cache_max_gb` or the disk, today's pipeline (with one
    Message saying why). `for_training`: training will read random crop
    positions (False for the doctor's feature pass, which never trains)."""
    plain = {"pin_memory": True} if device.type == "cuda" else {}
    if not config.image_cache:
        return plain, "decoded every epoch (image cache off)"
    plan = plan_for(spec, config.augment, for_training)
    folder = image_cache.cache_folder()
    why_not = image_cache_budget.why_not(plan, folder, config.image_cache_max_gb)
    if why_not:
        reporter.emit(Message("info", f"Image cache not used: {why_not}; decoding the images every epoch instead"))
        return plain, f"decoded every epoch ({why_not})"
    cache = _open_everywhere(plan, folder, reporter)
    if isinstance(cache, str):
        reporter.emit(Message("warning", f"Image cache not used: {cache}; decoding the images every epoch instead"))
        return plain, "decoded every epoch (image cache failed)"
    _remember_failures(cache)
    size = f"{cache.nbytes / 1e9:.2f} GB" if cache.nbytes >= 1e8 else f"{cache.nbytes / 1e6:.1f} MB"
    status = f"decoded once ({len(cache.paths)} images, {size} cache)"
    dl_type = WeightedCachedImageDL if config.imbalance == OVERSAMPLE else CachedImageDL
    return {"dl_type": dl_type, "image_cache": cache}, status


def _open_everywhere(plan, folder: Path, reporter):
    """The opened cache, built first where needed, or why it could not be
    made. Under torchrun the first process builds it and the others open it."""
    from tlstudio.core.training import distributed

    def build_here():
        try:
            return image_cache.open_or_build(plan, folder, reporter)
        except OSError as exc:
            return f"{folder}: {exc.strerror or exc}"

    if distributed.world_size() <= 1:
        return build_here()

    def built_on_rank0():  # plain data every process can be told
        try:
            outcome = build_here()
        except Cancelled:
            return "cancelled"
        return outcome if isinstance(outcome, str) else "ok"

    outcome = distributed.from_rank0(built_on_rank0)
    if outcome == "cancelled":
        raise Cancelled()
    if outcome != "ok":
        return outcome
    return image_cache.ImageCache(folder / plan.file_name(), plan, reporter)


def _remember_failures(cache) -> None:
    from tlstudio.core.dataset.loaders import remember_undecodable

    remember_undecodable(cache.failed)  # `items_frame` leaves them out, as after a failed decode
