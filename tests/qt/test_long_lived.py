"""A large dataset's objects are kept out of the garbage collector's full passes (qt/long_lived.py)."""
from __future__ import annotations

import gc
import time
from pathlib import Path

from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.qt.app_state import AppState
from tlstudio.qt.long_lived import LARGE


def spec_of(n: int) -> DatasetSpec:
    items = [Path(f"/data/{'a' if i % 2 else 'b'}/{i}.png") for i in range(n)]
    return DatasetSpec(Path("/data"), "class-folders", items, [p.parent.name for p in items], ["train"] * n, ["a", "b"])


def full_pass_ms() -> float:
    start = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - start) * 1000


def test_a_large_dataset_is_frozen_and_a_small_one_thaws_it(qapp):
    state = AppState()
    try:
        state.set_dataset(spec_of(100))
        assert gc.get_freeze_count() == 0  # small: nothing to gain
        large = spec_of(4 * LARGE)
        state.set_dataset(large)
        assert gc.get_freeze_count() >= len(large.items)  # its Paths at least
        frozen = min(full_pass_ms() for _ in range(3))
        gc.unfreeze()
        thawed = min(full_pass_ms() for _ in range(3))
        gc.freeze()
        assert frozen < thawed / 2, (frozen, thawed)  # the point of it: full passes skip the dataset
        state.set_dataset(spec_of(100))
        assert gc.get_freeze_count() == 0  # back to normal collection, the large one's garbage collected
    finally:
        gc.unfreeze()
