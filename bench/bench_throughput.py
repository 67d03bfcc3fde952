"""Images per second: today's pipeline (decoded every epoch) against the decode-once image cache, in one run.

    .venv/bin/python bench/bench_throughput.py [--sets demo,jpeg] [--size 128] [--arch mobilenet_v2]
        [--jpeg-images 2000] [--jpeg-px 256] [--bs 32|auto] [--workers 0] [--device cpu|cuda] [--repeat 2]

For each data set, with the same settings and seed for both pipelines:
- the cache build from nothing (its file deleted first): wall time and images/s,
  and opening it again (the CRC check every later run pays);
- the feature-cache pass of fast head training (body and the head's
  parameter-free layers over train + valid, validation transforms, eval mode);
- one unfrozen epoch: every training batch (default augmentation) through
  the learner's model, loss and optimizer with every layer group trainable,
  then the validation pass; images/s of each and of the epoch.

The two pipelines run side by side, batch by batch in turn (today's first,
then the cache's; `--repeat 2` runs again with the cache's first), so the
load of a shared machine falls on both alike. For each, the time spent
getting batches (loader and batch transforms) and computing on them is summed,
and its share of the time is shown: that share is what the cache changes.
Images per CPU second (process time, every thread) are given too. A few
training batches of each warm up first (allocations, cuDNN's autotuning).

Data: the bundled demo set (600 Fashion-MNIST PNGs, 28 x 28) and Fashion-MNIST
images written as JPEGs of --jpeg-px pixels (bilinear upscaling, quality 90;
decoding them costs what a photo of that size costs) under bench/out/, 80%
train and 20% valid. The pretrained weights are used (mobilenet_v2's ship with
TL Studio); `--random-weights` starts from random ones for a machine without
them (on a CPU, a random network's denormal floats can slow it many times over).
`--device cuda` runs the same on a GPU, where TL Studio adds mixed precision,
channels_last and pinned copies to both pipelines; pass `--workers 16` there
for fastai's usual worker count in today's pipeline, and `--bs auto` for the
batch the GPU's free memory allows.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

os.environ.setdefault("TLSTUDIO_CACHE_DIR", str(REPO / "bench" / "out" / "cache"))


def jpeg_set(n: int, px: int) -> Path:
    """`n` Fashion-MNIST training images as px x px JPEGs in train/ and valid/ class folders (written once)."""
    import numpy as np
    from fashion_mnist import CLASSES, load_part
    from PIL import Image

    root = REPO / "bench" / "out" / f"fmnist-jpeg-{px}px-{n}"
    done = root / "complete"
    if done.exists():
        return root
    images, labels = load_part("train")
    per_class = n // len(CLASSES)
    for c, name in enumerate(CLASSES):
        picked = np.flatnonzero(labels == c)[:per_class]
        for k, i in enumerate(picked):
            split = "valid" if k % 5 == 0 else "train"
            path = root / split / name / f"{i:05d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i], "L").convert("RGB").resize((px, px), Image.BILINEAR).save(path, quality=90)
    done.write_text("")
    return root


def _now() -> float:
    """perf_counter once the GPU has finished what it was given."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()


def interleaved(spec, configs: dict, n_train: int, n_valid: int) -> dict:
    """Both pipelines' learners side by side, batch by batch in turn, so that
    the machine's changing load falls on both alike. For each pipeline the
    time to get each batch (loader and batch transforms) and to compute on it
    is summed; images/s is images over the two together. The computation is
    fastai's: the learner's model, loss function and optimizer."""
    from torch import nn

    from tlstudio.core.training import run as training
    from tlstudio.core.training.features import parameter_free_prefix

    learns = {k: training.prepare_learner(spec, c) for k, c in configs.items()}
    rows = {k: {"bs": learn.dls.train.bs} for k, learn in learns.items()}

    def features(learn):
        body, head = learn.model[0], learn.model[1]
        prefix = nn.Sequential(*list(head)[: parameter_free_prefix(head)])
        learn.model.eval()
        dls = learn.dls
        for dl in (dls.test_dl(dls.train.items, with_labels=True), dls.valid):
            for xb, _ in _timed(dl):
                yield len(xb), lambda xb=xb: _no_grad(lambda: prefix(body(xb)))

    def train_epoch(learn):
        learn.unfreeze()
        learn.create_opt()
        learn.opt.set_hyper("lr", 1e-4)
        learn.model.train()
        for xb, yb in _timed(learn.dls.train):
            def step(xb=xb, yb=yb):
                loss = learn.loss_func(learn.model(xb), yb)
                loss.backward()
                learn.opt.step()
                learn.opt.zero_grad()
            yield len(xb), step

    def valid(learn):
        learn.model.eval()
        for xb, _ in _timed(learn.dls.valid):
            yield len(xb), lambda xb=xb: _no_grad(lambda: learn.model(xb))

    for phase, work in (("warm-up", train_epoch), ("features", features), ("train", train_epoch), ("valid", valid)):
        totals = _in_turn({k: work(learn) for k, learn in learns.items()}, stop_after=3 if phase == "warm-up" else None)
        if phase == "warm-up":
            continue
        for k, (n, fetch_s, compute_s, cpu_s) in totals.items():
            rows[k][f"{phase}_img_s"] = n / (fetch_s + compute_s)
            rows[k][f"{phase}_img_cpu_s"] = n / cpu_s
            rows[k][f"{phase}_fetch_share"] = fetch_s / (fetch_s + compute_s)
    for row in rows.values():
        row["epoch_img_s"] = (n_train + n_valid) / (n_train / row["train_img_s"] + n_valid / row["valid_img_s"])
    return rows


def _no_grad(f):
    import torch

    with torch.no_grad():
        return f()


_fetch_clock: dict = {}


def _timed(dl):
    """`dl`'s batches, the time spent getting each (wall and CPU) left in `_fetch_clock`."""
    it = iter(dl)
    while True:
        t0, c0 = _now(), time.process_time()
        try:
            batch = next(it)
        except StopIteration:
            return
        _fetch_clock["wall"], _fetch_clock["cpu"] = _now() - t0, time.process_time() - c0
        yield batch


def _in_turn(works: dict, stop_after: int | None = None) -> dict:
    """Take one batch from each pipeline in turn and compute on it, until all
    are done; per pipeline (images, fetch s, compute s, CPU s)."""
    totals = {k: [0, 0.0, 0.0, 0.0] for k in works}
    live = dict(works)
    rounds = 0
    while live and (stop_after is None or rounds < stop_after):
        rounds += 1
        for k in list(live):
            try:
                n, compute = next(live[k])
            except StopIteration:
                del live[k]
                continue
            fetch_wall, fetch_cpu = _fetch_clock["wall"], _fetch_clock["cpu"]
            t0, c0 = _now(), time.process_time()
            compute()
            t = totals[k]
            t[0] += n
            t[1] += fetch_wall
            t[2] += _now() - t0
            t[3] += fetch_cpu + time.process_time() - c0
    return totals


PHASES = ("features", "train", "valid")


def _costs(r: dict, key: str, phase: str) -> tuple[float, float]:
    """(getting batches, computing) in ms per image of one pipeline's phase."""
    row = r[key]
    total_ms = 1000 / row[f"{phase}_img_s"]
    return total_ms * row[f"{phase}_fetch_share"], total_ms * (1 - row[f"{phase}_fetch_share"])


def report(results: dict) -> None:
    """The tables of docs/benchmarks.md, from a run's results (or its --json file, with --report)."""
    print("\n| set | pipeline | batch | feature pass img/s (per CPU s) | train img/s (per CPU s) | valid img/s | "
          "epoch img/s | load |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        for key in [k for k in r if k.startswith(("today", "cache"))]:
            row = r[key]
            print(f"| {name} ({r['images']}) | {key} | {row['bs']} | " + " | ".join(
                f"{row[f'{p}_img_s']:.1f} ({row[f'{p}_img_cpu_s']:.1f})" for p in ("features", "train"))
                + f" | {row['valid_img_s']:.1f} | {row['epoch_img_s']:.1f} | {row['load']:.1f} |")
    print("\nPer image, ms getting batches (loader and batch transforms) / computing, and cache over today:"
          " as measured, and with the computing pooled over both pipelines (the same model on batches of the"
          " same size: what differs between them is noise)")
    print("\n| set | round | phase | today: getting / computing | cache: getting / computing | measured | pooled |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        rounds = sorted({k.split("#")[1] if "#" in k else "1" for k in r if k.startswith("today")})
        for rnd in rounds:
            suffix = f"#{rnd}" if f"today#{rnd}" in r else ""
            for phase in PHASES:
                (tf, tc), (cf, cc) = _costs(r, "today" + suffix, phase), _costs(r, "cache" + suffix, phase)
                pooled = (tc + cc) / 2
                print(f"| {name} | {rnd} | {phase} | {tf:.1f} / {tc:.1f} | {cf:.1f} / {cc:.1f} | "
                      f"{(tf + tc) / (cf + cc):.2f} x | {(tf + pooled) / (cf + pooled):.2f} x |")
    print("\n| set | cache build (threads) | build img/s | on one thread | reopen (check) | cache size |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        b = r["build"]
        one = f"{b['build_one_thread_s']:.1f} s" if "build_one_thread_s" in b else "-"
        print(f"| {name} ({r['images']}) | {b['build_s']:.1f} s ({b.get('threads', '-')}) | {b['build_img_s']:.0f} | "
              f"{one} | {b['open_s']:.2f} s | {b['cache_gb'] * 1000:.0f} MB |")


def build_times(spec, config) -> dict:
    """The cache built from nothing on one thread, then on the usual pool, then opened again."""
    import torch

    from tlstudio.core.dataset import image_cache
    from tlstudio.core.dataset.cached_loader import plan_for
    from tlstudio.core.training.image_reading import loader_options
    from tlstudio.core.events import NullReporter

    plan = plan_for(spec, config.augment)
    device = torch.device("cuda" if config.device == "cuda" else "cpu")
    path = image_cache.cache_folder() / plan.file_name()
    times = {}
    for name, workers in (("one_thread", lambda: 1), ("pool", image_cache._workers)):
        path.unlink(missing_ok=True)
        usual, image_cache._workers = image_cache._workers, workers
        try:
            t0 = time.perf_counter()
            options, _ = loader_options(spec, config, device, NullReporter())
            times[name] = time.perf_counter() - t0
        finally:
            image_cache._workers = usual
    t0 = time.perf_counter()
    loader_options(spec, config, device, NullReporter())
    return {"build_s": times["pool"], "build_img_s": len(plan.paths) / times["pool"],
            "build_one_thread_s": times["one_thread"], "threads": image_cache._workers(),
            "open_s": time.perf_counter() - t0, "cache_gb": options["image_cache"].nbytes / 1e9}


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()}"
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="demo,jpeg")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--arch", default="mobilenet_v2")
    parser.add_argument("--bs", default="32", help="a batch size, or auto (CUDA: from free memory)")
    parser.add_argument("--jpeg-images", type=int, default=2000)
    parser.add_argument("--jpeg-px", type=int, default=256)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for today's pipeline (0)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--repeat", type=int, default=1, help="rounds side by side (0: the cache build alone)")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--report", type=Path, help="print the tables of an earlier --json file, run nothing")
    args = parser.parse_args(argv)
    if args.report:
        saved = json.loads(args.report.read_text())
        print(f"{saved['date']}, {saved['machine']}")
        report(saved["results"])
        return 0

    from tlstudio.core.config import AugmentConfig, TrainConfig
    from tlstudio.core.dataset.scan import scan

    auto = args.bs == "auto"
    base = TrainConfig(arch=args.arch, pretrained=not args.random_weights, augment=AugmentConfig(size=args.size),
                       bs=32 if auto else int(args.bs), auto_bs=auto, device=args.device, seed=0,
                       num_workers=args.workers)
    sets = {"demo": lambda: REPO / "resources" / "demo", "jpeg": lambda: jpeg_set(args.jpeg_images, args.jpeg_px)}
    started = datetime.datetime.now().astimezone()
    load_before = os.getloadavg()[0]
    print(f"{started:%Y-%m-%d %H:%M}, {machine()}, load {load_before:.1f}", flush=True)
    results = {}
    for name in args.sets.split(","):
        spec = scan(sets[name]())
        counts = spec.split_counts()
        n_train, n_valid = counts["train"], counts["valid"]
        rows = {"build": build_times(spec, base.with_(image_cache=True))}
        print(name, len(spec), "images:", rows["build"], flush=True)
        for r in range(args.repeat):
            # Alternate which pipeline takes each batch first.
            names = ("today", "cache") if r % 2 == 0 else ("cache", "today")
            configs = {k: base.with_(image_cache=k == "cache") for k in names}
            for k, row in interleaved(spec, configs, n_train, n_valid).items():
                rows[f"{k}#{r + 1}" if args.repeat > 1 else k] = row | {"load": os.getloadavg()[0]}
                print(name, k, r + 1, row, flush=True)
        results[name] = {"images": len(spec), "train": n_train, "valid": n_valid, **rows}
    report(results)
    print(f"\nload average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    if args.json:
        args.json.write_text(json.dumps({"date": started.isoformat(), "machine": machine(), "args": vars(args) | {"json": None},
                                         "results": results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
