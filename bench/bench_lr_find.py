"""The stage-1 LR finder: on cached features (the fast head) against through the whole network.

    .venv/bin/python bench/bench_lr_find.py [--data resources/demo] [--size 128]

In one process, on the same learner: `lr_find.find_lr(stage=1)` with the fast
head on (caching included) and off, 100 iterations each; wall time and the
four suggestions of each.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "resources" / "demo")
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args(argv)

    from tlstudio.core.config import AugmentConfig, TrainConfig
    from tlstudio.core.dataset.scan import scan
    from tlstudio.core.training.lr_find import find_lr
    from tlstudio.core.training.run import prepare_learner

    spec = scan(args.data)
    config = TrainConfig(augment=AugmentConfig(size=args.size), device="cpu")
    learn = prepare_learner(spec, config)
    for fast in (True, False):
        t0 = time.perf_counter()
        result = find_lr(spec, config.with_(fast_head=fast), stage=1, learn=learn)
        wall = time.perf_counter() - t0
        found = ", ".join(f"{s.name} {s.lr:.2e}" for s in result.suggestions)
        print(f"| {'cached features' if fast else 'whole network'} | {wall:.1f} | {len(result.lrs)} | {found} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
