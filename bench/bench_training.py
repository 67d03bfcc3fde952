"""Training: the plain fastai recipe against the engine, on Fashion-MNIST 200 + 50 per class.

    .venv/bin/python bench/bench_training.py [--data bench/out/fmnist_200_50] [--size 64] [--json FILE]

Builds 10 classes x (200 train + 50 valid) Fashion-MNIST PNGs (once, see
bench/fashion_mnist.py: train images from the official training file, valid
images from the official test file), then in one process, on one seed:

(a) the plain notebook recipe: `vision_learner(dls, mobilenet_v2,
    metrics=accuracy).fine_tune(3)` (the learner comes from
    `models.build_learner`, which is `vision_learner` with the offline weights
    and our layer groups);
(b) `training.run` with the same settings: same DataLoaders (bs 64), fast head
    off, fine_tune's schedule (`head_lr=2e-3`, `base_lr=1e-3`, because
    fine_tune halves its base_lr before stage 2);
(c) `training.run` with the engine's defaults (fast head on, bs 32);
(headN, with --head-epochs) stage 1 alone on cached features for N epochs.

For each: training wall time (learner already built), process CPU time, final
valid accuracy, and for (b)/(c) the wall time at which the run first matched
(a)'s final accuracy. Targets: (b) within 3% of (a)'s time; (c) reaches (a)'s
final accuracy within a quarter of (a)'s time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

TRAIN_PER_CLASS, VALID_PER_CLASS = 200, 50


def build_spec(root: Path):
    from fashion_mnist import write_fashion_mnist

    from tlstudio.core.dataset.spec import DatasetSpec

    write_fashion_mnist(root, per_class=TRAIN_PER_CLASS, splits=True)
    items, labels, splits = [], [], []
    for split, n in (("train", TRAIN_PER_CLASS), ("valid", VALID_PER_CLASS)):
        for folder in sorted(p for p in (root / split).iterdir() if p.is_dir()):
            for path in sorted(folder.glob("*.png"))[:n]:
                items.append(path)
                labels.append(folder.name)
                splits.append(split)
    return DatasetSpec(root, "split-folders", items, labels, splits, sorted(set(labels)))


class Clock:
    """Wall and CPU time of a block, plus wall time at each epoch end (via the reporter)."""

    def __init__(self):
        self.t0 = self.c0 = None
        self.epoch_times: list[tuple[float, float]] = []  # (seconds since start, accuracy)

    def __enter__(self):
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.t0, time.process_time() - self.c0

    # Reporter protocol
    def emit(self, event):
        from tlstudio.core.events import EpochEnd

        if isinstance(event, EpochEnd):
            self.epoch_times.append((time.perf_counter() - self.t0, event.metrics["accuracy"]))

    def cancel_requested(self):
        return False

    def first_reaching(self, accuracy: float) -> float | None:
        return next((t for t, acc in self.epoch_times if acc >= accuracy - 1e-9), None)


def plain_recipe(spec, size: int, seed: int):
    from fastai.metrics import accuracy
    from fastai.torch_core import set_seed

    from tlstudio.core.config import AugmentConfig
    from tlstudio.core.dataset.loaders import make_dataloaders
    from tlstudio.core.models.learner import build_learner

    set_seed(seed, reproducible=True)
    dls = make_dataloaders(spec, AugmentConfig(size=size), bs=64, seed=seed, device="cpu")
    learn = build_learner(dls, "mobilenet_v2", metrics=accuracy)
    with Clock() as clock:
        learn.fine_tune(3)
    acc = [float(v[2]) for v in learn.recorder.values]
    return {"wall_s": clock.wall, "cpu_s": clock.cpu, "accuracy": acc[-1], "epoch_accuracy": acc}


def engine(spec, config):
    from tlstudio.core.training import run as training

    learn = training.prepare_learner(spec, config)
    with Clock() as clock:
        result = training.run(spec, config, clock, learn=learn)
    assert result.status == "completed", result.message
    return clock, {
        "wall_s": clock.wall,
        "cpu_s": clock.cpu,
        "accuracy": result.history[-1].metrics["accuracy"],
        "epoch_accuracy": [e.metrics["accuracy"] for e in result.history],
        "epoch_end_s": [t for t, _ in clock.epoch_times],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "bench" / "out" / "fmnist_200_50")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--only", default="abc", help="which runs, in order, e.g. 'ac' or 'baba'")
    parser.add_argument(
        "--head-epochs", default="", help="also time stage 1 alone on cached features for these epoch counts, e.g. 1,3,5"
    )
    parser.add_argument("--base-wall", type=float, default=None, help="(a)'s wall time when (a) is not run")
    parser.add_argument("--accuracy-to-reach", type=float, default=None, help="(a)'s accuracy when (a) is not run")
    args = parser.parse_args(argv)

    from tlstudio.core.config import AugmentConfig, TrainConfig

    spec = build_spec(args.data)
    print(f"{len(spec)} images, {len(spec.classes)} classes, {platform.machine()} x{os.cpu_count()}", flush=True)
    aug = AugmentConfig(size=args.size)
    configs = {
        "b": TrainConfig(
            augment=aug, bs=64, freeze_epochs=1, epochs=3, head_lr=2e-3, base_lr=1e-3,
            fast_head=False, device="cpu", seed=args.seed,
        ),
        "c": TrainConfig(augment=aug, device="cpu", seed=args.seed),
    }
    for n in [int(v) for v in args.head_epochs.split(",") if v]:
        configs[f"head{n}"] = configs["c"].with_(freeze_epochs=n, epochs=0)
    # Runs go in the order given, so a repeat ("bab") shows what warm-up costs.
    order = list(args.only) + [k for k in configs if k.startswith("head")]
    rows, clocks = {}, {}
    for i, key in enumerate(order):
        name = key if key not in [k.split("#")[0] for k in rows] else f"{key}#{i}"
        if key == "a":
            rows[name] = plain_recipe(spec, args.size, args.seed)
        else:
            clocks[name], rows[name] = engine(spec, configs[key])
        rows[name]["load_1min_after"] = os.getloadavg()[0]
        print(name, rows[name], flush=True)
    a_rows = [r for k, r in rows.items() if k.split("#")[0] == "a"]
    target = a_rows[-1]["accuracy"] if a_rows else args.accuracy_to_reach
    if target is not None:
        for name, clock in clocks.items():
            rows[name]["reached_a_at_s"] = clock.first_reaching(target)

    names = {
        "a": "plain fastai: vision_learner + fine_tune(3)",
        "b": "engine, same settings (fast head off)",
        "c": "engine defaults (fast head on)",
        **{k: f"engine defaults, stage 1 only, {k[4:]} head epochs on cached features" for k in configs if k.startswith("head")},
    }
    base = min((r["wall_s"] for r in a_rows), default=None) or args.base_wall
    print("\n| run | wall s | CPU s | time / (a) | final accuracy | reached (a)'s accuracy at |")
    print("|---|---|---|---|---|---|")
    for name, row in rows.items():
        key = name.split("#")[0]
        ratio = f"{row['wall_s'] / base:.3f}" if base else "-"
        reached = row.get("reached_a_at_s")
        at = "-" if key == "a" else "never" if reached is None else f"{reached:.1f} s" + (f" ({reached / base:.2f} of (a))" if base else "")
        print(f"| ({name}) {names[key]} | {row['wall_s']:.1f} | {row['cpu_s']:.1f} | {ratio} | {row['accuracy']:.3f} | {at} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
