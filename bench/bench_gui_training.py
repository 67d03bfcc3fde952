"""Training driven from the GUI against the same training driven headless.

    .venv/bin/python bench/bench_gui_training.py [--repeat 3] [--size 64] [--epochs 1]

(a) headless, as `tlstudio train` runs it: `training.run` in a fresh
    process with a reporter that only keeps the BatchEnd events (started
    through a fresh engine process (`jobs.host.EngineHost`) from this script's main
    thread, which does nothing else meanwhile);
(w) headless in this process after a warm-up run: the same `training.run`
    with torch's one-time costs (first allocations, kernel selection) already
    paid, which no fresh process has. Shown for reference;
(b) GUI: a real TrainPage in an offscreen QApplication, started by clicking
    Start (the page trains in a child process); the recorder wraps the
    page's reporter, and a 10 ms QTimer probe records how late the event
    loop serves it;
(c) the same GUI run without the probe (its 100 wake-ups a second cost CPU
    that a user's window does not spend).

Runs alternate a, w, b, c, ... after one untimed warm-up run, so machine
load hits them alike. Throughput is training images / training time, from
the BatchEnd events (each epoch's last `images_per_s` is that epoch's images
over its training seconds). Targets: (c) >= 95% of (a), (b) shown beside
it; the probe's p99 gap in (b) <= 50 ms.
"""
from __future__ import annotations

import argparse
import faulthandler
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PROBE_MS = 10
STALL_DUMP_S = 0.2


def stall_sites(text: str) -> Counter:
    """Count, over faulthandler dumps, each thread's innermost frames: the
    GUI thread is the one whose stack ends in this script's main."""
    sites: Counter = Counter()
    for dump in text.split("Timeout (")[1:]:
        for block in dump.split("Thread ")[1:]:
            frames = [line.strip() for line in block.splitlines()[1:] if line.strip().startswith("File")]
            if not frames:
                continue
            who = "GUI" if any("bench_gui_training.py" in f and "in main" in f for f in frames) else "worker"
            sites[f"{who}: " + " <- ".join(f.split("/")[-1] for f in frames[:3])] += 1
    return sites


class BatchRecorder:
    """Reporter (or wrapper of one) that keeps BatchEnd events, nothing else."""

    def __init__(self, inner=None):
        self.inner = inner
        self.batches: list = []
        self.cpu_s = 0.0  # CPU time of the training thread (or process) over the run

    def emit(self, ev) -> None:
        from tlstudio.core.events import BatchEnd

        if isinstance(ev, BatchEnd):
            self.batches.append(ev)
        if self.inner is not None:
            self.inner.emit(ev)

    def cancel_requested(self) -> bool:
        return self.inner is not None and self.inner.cancel_requested()


def throughput(batches, bs: int) -> tuple[float, int]:
    """(training images per second, images) over every epoch of the run.

    Each BatchEnd's `images_per_s` is the images so far in its epoch over the
    seconds since that epoch began, so an epoch's last batch gives its
    training time: n_batches * bs / images_per_s (fastai drops the partial
    last training batch, so every batch holds `bs` images)."""
    last, count = {}, {}
    for b in batches:
        key = (b.stage, b.epoch)
        last[key] = b
        count[key] = count.get(key, 0) + 1
    images = sum(count[k] * bs for k in last)
    seconds = sum(count[k] * bs / last[k].images_per_s for k in last)
    return images / seconds, images


def children_cpu_s() -> float:
    """CPU time of this process's finished (joined) children."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_headless(spec, config):
    """(w): in this process, warm."""
    from tlstudio.core.training import run as training

    rec = BatchRecorder()
    t0, c0 = time.perf_counter(), time.thread_time()
    result = training.run(spec, config, rec)
    rec.cpu_s = time.thread_time() - c0
    wall = time.perf_counter() - t0
    assert result.status == "completed", result.message
    return rec, wall


def run_headless_process(spec, config):
    """(a): a fresh process, as the CLI."""
    from tlstudio.core.jobs.host import EngineHost
    from tlstudio.core.jobs.training import TrainJob

    rec = BatchRecorder()
    t0, c0 = time.perf_counter(), children_cpu_s()
    host = EngineHost()
    try:
        result = host.run(TrainJob(spec, config), rec)
    finally:
        host.stop()  # joined, so its CPU time counts
    rec.cpu_s = children_cpu_s() - c0
    wall = time.perf_counter() - t0
    assert result.status == "completed", result.message
    return rec, wall


def run_gui(app, spec, config, probe_on: bool = True):
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtTest import QTest

    from tlstudio.qt.app_state import AppState
    from tlstudio.qt.pages.train_page import TrainPage, train_task

    state = AppState()
    state.set_dataset(spec)
    state.train_config = config
    page = TrainPage(state)
    page.resize(1150, 820)
    page.show()
    recorders = []

    def task(spec_, config_, reporter):
        rec = BatchRecorder(reporter)
        recorders.append(rec)
        c0 = children_cpu_s()
        try:
            return train_task(spec_, config_, rec)
        finally:
            rec.cpu_s = children_cpu_s() - c0

    page.task_fn = task
    ticks: list[float] = []
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_MS)
    # A stalled GUI thread cannot report where the time went, but faulthandler's
    # own C thread can: re-armed at every tick, it dumps every thread's stack
    # when the event loop has not served the probe for STALL_DUMP_S.
    dumps = tempfile.TemporaryFile("w+")

    def tick():
        ticks.append(time.perf_counter())
        faulthandler.dump_traceback_later(STALL_DUMP_S, file=dumps)

    probe.timeout.connect(tick)
    loop = QEventLoop()
    page._slot.running_changed.connect(lambda running: running or loop.quit())
    marks: list[tuple[float, str]] = []  # when the GUI thread received the milestones
    page._slot.running_changed.connect(lambda running: marks.append((time.perf_counter(), f"running={running}")))
    app.processEvents()
    if probe_on:
        probe.start()
    t0 = time.perf_counter()
    cpu0 = time.thread_time()
    QTest.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    task = page._slot.task
    task.event.connect(lambda ev: type(ev).__name__ in ("StageStart", "EpochEnd", "FitEnd") and marks.append((time.perf_counter(), type(ev).__name__)))
    loop.exec()
    gui_cpu = time.thread_time() - cpu0
    wall = time.perf_counter() - t0
    probe.stop()
    faulthandler.cancel_dump_traceback_later()
    dumps.seek(0)
    for where, n in stall_sites(dumps.read()).most_common(4):
        print(f"    stalled > {STALL_DUMP_S * 1000:.0f} ms, {n}x: {where}")
    app.processEvents()
    assert page.result is not None and page.result.status == "completed", page.result_label.text()
    gaps = [(b - a) * 1000 for a, b in zip(ticks, ticks[1:])]
    worst = sorted(range(len(gaps)), key=gaps.__getitem__)[-3:] if gaps else []
    for i in reversed(worst):
        at = ticks[i] - t0
        before = [name for t, name in marks if t - t0 <= at]
        print(f"    gap {gaps[i]:.0f} ms at {at:.1f} s (after {before[-1] if before else 'start'})")
    print(f"    GUI thread CPU {gui_cpu:.1f} s of {wall:.1f} s wall ({gui_cpu / wall:.0%} of one core)")
    redraws = page.curves.redraws
    page.close()
    page.deleteLater()
    app.processEvents()
    return recorders[0], wall, gaps, redraws


def idle_probe(app, seconds: float = 3.0) -> list[float]:
    """The probe on an idle event loop: the machine's own scheduling noise."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    ticks: list[float] = []
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_MS)
    probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    probe.start()
    loop.exec()
    probe.stop()
    return [(b - a) * 1000 for a, b in zip(ticks, ticks[1:])]


def percentile(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--bs", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1, help="epochs per stage")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fast-head", action="store_true", help="stage 1 on cached features (default: off)")
    parser.add_argument("--redraw-ms", type=int, default=None, help="the Train page's redraw interval (default: the page's own)")
    args = parser.parse_args(argv)
    if args.redraw_ms:
        import tlstudio.qt.pages.train_page as train_page

        train_page.REDRAW_MS = args.redraw_ms

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    import torch

    from tlstudio.core.config import AugmentConfig, TrainConfig
    from tlstudio.core.dataset.scan import scan

    spec = scan(REPO / "resources" / "demo")
    config = TrainConfig(
        augment=AugmentConfig(size=args.size), bs=args.bs, freeze_epochs=args.epochs, epochs=args.epochs,
        device=args.device, fast_head=args.fast_head, num_workers=0, seed=42,
    )
    print(f"demo set: {len(spec)} images, {spec.split_counts()}; {args.size} px, bs {args.bs}, "
          f"{args.epochs}+{args.epochs} epochs, fast head {'on' if args.fast_head else 'off'}, "
          f"device {args.device}, torch threads {torch.get_num_threads()}")
    run_headless(spec, config.with_(freeze_epochs=1, epochs=0))  # warm-up: imports, weights, first allocations

    idle = idle_probe(app)
    print(f"idle event loop, no training: probe p99 {percentile(idle, 99):.1f} ms, max {max(idle):.1f} ms")
    ips_of = {k: [] for k in ("headless", "warm", "gui", "gui_quiet")}
    cpu = {k: [] for k in ips_of}
    stalls = []

    def record(kind, i, rec, wall, extra=""):
        ips, images = throughput(rec.batches, args.bs)
        ips_of[kind].append(ips)
        cpu[kind].append(rec.cpu_s)
        print(f"[{i}] {kind:9s} {ips:7.1f} images/s ({images} images, run {wall:.1f} s, training CPU "
              f"{rec.cpu_s:.1f} s){extra}", flush=True)

    for i in range(args.repeat):
        record("headless", i, *run_headless_process(spec, config))
        record("warm", i, *run_headless(spec, config))
        rec, wall, gaps, redraws = run_gui(app, spec, config)
        stalls.append(gaps)
        record("gui", i, rec, wall, f"; probe gaps p50 {percentile(gaps, 50):.1f} ms, p99 {percentile(gaps, 99):.1f} ms, "
               f"max {max(gaps):.1f} ms over {len(gaps)} ticks; {redraws} plot redraws")
        rec, wall, _, redraws = run_gui(app, spec, config, probe_on=False)
        record("gui_quiet", i, rec, wall, f"; {redraws} plot redraws")

    med = {k: statistics.median(v) for k, v in ips_of.items()}
    h, g, q, w = med["headless"], med["gui"], med["gui_quiet"], med["warm"]
    all_gaps = [x for gaps in stalls for x in gaps]
    p99, worst = percentile(all_gaps, 99), max(all_gaps)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    def runs(kind):
        return f"{med[kind]:.1f} ({', '.join(f'{x:.1f}' for x in ips_of[kind])})"

    print()
    print("| date | machine | headless images/s | GUI + probe images/s | GUI / headless | GUI, no probe | no probe / headless "
          "| warm in-process headless (no probe / it) | probe p99 (idle p99) | probe max | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {date.today()} | {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.device}, "
          f"torch threads {torch.get_num_threads()}, {args.size} px | {runs('headless')} | {runs('gui')} | {g / h:.1%} | "
          f"{runs('gui_quiet')} | {q / h:.1%} | {runs('warm')} ({q / w:.1%}) | {p99:.1f} ms ({percentile(idle, 99):.1f} ms) | "
          f"{worst:.1f} ms | {load:.1f} |")
    print("\ntraining CPU s (median): " + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in cpu.items()))
    # Throughput is judged on (c), the window as a user has it; the probe's 100
    # wake-ups a second are the stall measurement's own cost, shown in (b).
    ok = q >= 0.95 * h and p99 <= 50
    print(f"\ntargets: GUI (no probe) >= 95% of headless: {'met' if q >= 0.95 * h else 'MISSED'} ({q / h:.1%}; "
          f"with the probe {g / h:.1%}); p99 stall <= 50 ms: {'met' if p99 <= 50 else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
