"""How long Start waits: a run in a fresh engine process against one in an engine started
ahead (`EngineHost.start`, what the Train page does while it is shown), and the time from the
end of the fit to the result arriving in the window's process.

    .venv/bin/python bench/bench_train_start.py [--repeat 3] [--data resources/demo]

(f) fresh: a new `EngineHost` whose first job is the run: spawn, import torch and fastai,
    build the learner, then train;
(r) ready: an engine started `--ready-wait` seconds earlier, then the same run.
Reported per run: seconds from the call to the first StageStart event (what the user waits for
after Start), and seconds from the FitEnd event to the call's return (before the engine process
the window rebuilt the learner here; now only the plain result crosses). The run itself is 1 head
epoch on cached features, 32 px, no stage 2. Runs alternate f, r.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


class Clock:
    """Reporter that notes when the first StageStart and the FitEnd arrive."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.first_stage = self.fit_end = None

    def emit(self, ev) -> None:
        from tlstudio.core.events import FitEnd, StageStart

        now = time.perf_counter() - self.t0
        if isinstance(ev, StageStart) and self.first_stage is None:
            self.first_stage = now
        elif isinstance(ev, FitEnd):
            self.fit_end = now

    def cancel_requested(self) -> bool:
        return False


def one_run(spec, config, host=None) -> tuple[float, float]:
    from tlstudio.core.jobs.host import EngineHost
    from tlstudio.core.jobs.training import TrainJob

    engine = host or EngineHost()
    clock = Clock()
    try:
        result = engine.run(TrainJob(spec, config), clock)
    finally:
        if host is None:
            engine.stop()
    done = time.perf_counter() - clock.t0
    assert result.status == "completed", result.message
    return clock.first_stage, done - clock.fit_end


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=REPO / "resources" / "demo")
    parser.add_argument("--ready-wait", type=float, default=15.0, help="seconds the ready process gets to import")
    args = parser.parse_args(argv)

    from tlstudio.core.config import AugmentConfig, TrainConfig
    from tlstudio.core.dataset.scan import scan
    from tlstudio.core.jobs.host import EngineHost

    spec = scan(args.data)
    config = TrainConfig(augment=AugmentConfig(size=32), freeze_epochs=1, epochs=0, device="cpu", seed=42)
    print(f"{args.data}: {len(spec)} images")
    one_run(spec, config)  # warm-up: the page cache fills
    fresh, ready, rebuild = [], [], []
    for i in range(args.repeat):
        start, rb = one_run(spec, config)
        fresh.append(start)
        rebuild.append(rb)
        print(f"[{i}] fresh: first stage after {start:.2f} s, rebuild {rb:.2f} s", flush=True)
        host = EngineHost()
        host.start()
        time.sleep(args.ready_wait)
        start, rb = one_run(spec, config, host)
        host.stop()
        ready.append(start)
        rebuild.append(rb)
        print(f"[{i}] ready: first stage after {start:.2f} s, rebuild {rb:.2f} s", flush=True)

    def runs(values):
        return f"{statistics.median(values):.2f} ({', '.join(f'{v:.2f}' for v in values)})"

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print()
    print("| date | machine | images | Start to first stage, fresh s | same, ready s | ready / fresh | rebuild s | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {date.today()} | {platform.machine()}, {os.cpu_count()} cores | {len(spec)} | {runs(fresh)} | {runs(ready)} | "
          f"{statistics.median(ready) / statistics.median(fresh):.2f} | {runs(rebuild)} | {load:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
