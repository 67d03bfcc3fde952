"""Time one Augment-page update: both previews (3x3 grid + 16-image batch) for the demo set.

    python bench/bench_augment_preview.py [--size 128] [--repeat 5]

An update follows a change of augmentation: the DataLoaders are cached per
dataset and resize, so only the batch pipeline is rebuilt. The target is about
300 ms from the edit to the new pictures, of which 120 ms is the debounce, so
the pipeline work should stay under ~180 ms on a quiet 2-core machine. The
first (cold) figure includes building the DataLoaders, not importing fastai.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tlstudio.core.config import AUGMENT_PRESETS, AugmentConfig  # noqa: E402
from tlstudio.core.dataset import previews as augment  # noqa: E402
from tlstudio.core.dataset.scan import scan  # noqa: E402


def update(spec, config: AugmentConfig, seed: int) -> float:
    start = time.perf_counter()
    augment.augmented_grid(spec, config, item_index=0, n=9, seed=seed)
    augment.batch_sample(spec, config, n=16, seed=seed)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    spec = scan(REPO / "resources" / "demo")
    configs = [p.with_(size=args.size) for p in AUGMENT_PRESETS.values()]
    cold = update(spec, configs[0], 0)
    warm = [update(spec, configs[i % len(configs)], i) for i in range(1, 1 + args.repeat * len(configs))]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"demo set ({len(spec)} images) at {args.size} px, {os.cpu_count()} CPUs, load {load:.1f}")
    print(f"cold (DataLoaders built): {cold * 1000:.0f} ms")
    print(f"augmentation change (cached loaders): median {statistics.median(warm) * 1000:.0f} ms, "
          f"max {max(warm) * 1000:.0f} ms over {len(warm)} updates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
