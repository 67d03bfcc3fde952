"""What checkpointing after every epoch costs: a run into a project against the same run without one.

    .venv/bin/python bench/bench_checkpoint.py [--data resources/demo] [--size 64] [--repeat 2]

(p) plain: `training.run`, nothing written;
(c) checkpointed: `project.train_run.train_in_project`, the same config, a
    checkpoint (model, optimizer state, RNG states, RunLog) written after
    every epoch, then history, model and evaluation at the end.
Runs alternate p, c in one process, learner building included in neither
figure. Reported per run: training wall time (first StageStart to FitEnd),
the sum of the epochs' own times, and for (c) the time spent writing
checkpoints (inside the epochs' callbacks) and the checkpoint's size.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


class Clock:
    def __init__(self):
        self.start = self.end = None
        self.epochs = []

    def emit(self, ev) -> None:
        from tlstudio.core.events import EpochEnd, FitEnd, StageStart

        if isinstance(ev, StageStart) and self.start is None:
            self.start = time.perf_counter()
        elif isinstance(ev, EpochEnd):
            self.epochs.append(ev.elapsed_s)
        elif isinstance(ev, FitEnd):
            self.end = time.perf_counter()

    def cancel_requested(self) -> bool:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO / "resources" / "demo"))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from tlstudio.core.training import run as training
    from tlstudio.core.config import AugmentConfig, TrainConfig
    from tlstudio.core.dataset.scan import scan
    from tlstudio.core.project import checkpointing
    from tlstudio.core.project.train_run import train_in_project

    saves: list[float] = []
    sizes: list[int] = []
    real_save = checkpointing.CheckpointingHooks.save

    def timed_save(self, *a, **k):
        t = time.perf_counter()
        real_save(self, *a, **k)
        saves.append(time.perf_counter() - t)
        sizes.append(sum(f.stat().st_size for f in self.folder.iterdir()))

    checkpointing.CheckpointingHooks.save = timed_save
    spec = scan(args.data)
    config = TrainConfig(augment=AugmentConfig(size=args.size), freeze_epochs=2, epochs=2, unfreeze_depth=2,
                         device="cpu", seed=42)
    out = Path(tempfile.mkdtemp(prefix="bench-checkpoint-"))
    rows = []
    for i in range(args.repeat):
        for kind in ("p", "c"):
            clock = Clock()
            learn = training.prepare_learner(spec, config)
            saves.clear()
            cpu = time.process_time()
            if kind == "p":
                training.run(spec, config, clock, learn=learn)
            else:
                train_in_project(out / f"run{i}.tlsproject", spec, config, clock, learn=learn)
            cpu = time.process_time() - cpu
            rows.append((kind, clock.end - clock.start, sum(clock.epochs), sum(saves), len(saves), cpu))
            print(f"({kind}) training {rows[-1][1]:.1f} s, epochs {rows[-1][2]:.1f} s, "
                  f"{len(saves)} checkpoints {sum(saves):.2f} s, CPU {cpu:.1f} s", flush=True)
    plain = statistics.mean(r[1] for r in rows if r[0] == "p")
    ours = statistics.mean(r[1] for r in rows if r[0] == "c")
    per_save = [r[3] / r[4] for r in rows if r[0] == "c" and r[4]]
    epoch_share = [r[3] / r[2] for r in rows if r[0] == "c"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load {load:.1f}; {len(spec)} images at {args.size} px")
    print(f"training wall, checkpointed / plain: {ours / plain:.3f} ({ours:.1f} s / {plain:.1f} s, means)")
    print(f"one checkpoint write: {statistics.mean(per_save) * 1000:.0f} ms mean, "
          f"{max(sizes) / 1e6:.0f} MB on disk at most (checkpoint and best weights); "
          f"share of the epochs' time: {statistics.mean(epoch_share):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
