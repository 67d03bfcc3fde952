"""The window's long-lived data, kept out of the cyclic garbage collector's full passes.

A dataset of 70,000 images is some 170,000 tracked objects in the window's process (its Paths,
the copy a trained model's result brings back, the gallery's rows). Every full collection
walked them all: about 90 ms on the GUI thread, a stall the user sees while a job runs. Frozen
(`gc.freeze`), they are skipped. Reference counting still frees each of them when its dataset
or model goes. Garbage in reference cycles must not be frozen with them, so each freeze first
thaws the last one and collects in full: one pass when a large dataset or its model arrives,
instead of one every few hundred thousand allocations for as long as it stays open.
"""
from __future__ import annotations

import gc

LARGE = 10_000  # images; below this a full pass over the window's objects takes a few ms


def keep_out_of_gc(n_images: int) -> bool:
    """Freeze what is alive now, when a dataset or model of `n_images` has arrived; True if it did."""
    if n_images < LARGE and not gc.get_freeze_count():
        return False
    gc.unfreeze()
    gc.collect()
    if n_images >= LARGE:
        gc.freeze()
    return True
