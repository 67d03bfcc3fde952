"""Model quality: the plain fastai recipe against the engine's defaults, on four offline datasets.

    .venv/bin/python bench/bench_quality.py --seeds 0 --out bench/out/quality_s0.jsonl
    .venv/bin/python bench/bench_quality.py --report bench/out/quality_s*.jsonl

For each dataset of `bench/quality_data.py` (Fashion-MNIST 200 + 50 per
class, the demo set, scikit-learn's digits, texture crops of scikit-image's
photos), each with a held-out test split that neither recipe sees, and each
seed, in one process and side by side:

- plain: `vision_learner(dls, mobilenet_v2, metrics=accuracy).fine_tune(N)`
  (the learner from `models.build_learner`, i.e. `vision_learner` with the
  offline weights), bs 64 as fastai's loaders default, the model it ends with;
- engine: `training.run` with `TrainConfig()` (its defaults) at the same size
  and seed, the model it hands back;
- `--variant bs=64,epochs=2` (repeatable): the engine with those fields
  changed, measured beside the other two.

Both get the same split, image size, augmentation and seed. Recorded: test
accuracy of the returned model, best and final valid accuracy, the head's
accuracy and the lowest stage-2 accuracy (engine), wall time from building the
DataLoaders to the returned model. `--report` prints the markdown table of
docs/benchmarks.md from the JSON lines (mean and spread over seeds).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

DATASETS = ("fashion", "demo", "digits", "textures")


def test_accuracy(learn, spec) -> float:
    from fastai.metrics import accuracy

    from tlstudio.core.dataset.loaders import split_dataloader

    with learn.no_bar():
        preds, targets = learn.get_preds(dl=split_dataloader(learn.dls, spec, "test"))
    return float(accuracy(preds, targets))


def plain(spec, size: int, seed: int, epochs: int) -> dict:
    from fastai.metrics import accuracy
    from fastai.torch_core import set_seed

    from tlstudio.core.config import AugmentConfig
    from tlstudio.core.dataset.loaders import make_dataloaders
    from tlstudio.core.models.learner import build_learner

    t0 = time.perf_counter()
    set_seed(seed, reproducible=True)
    dls = make_dataloaders(spec, AugmentConfig(size=size), bs=64, seed=seed, device="cpu")
    learn = build_learner(dls, "mobilenet_v2", metrics=accuracy)
    with learn.no_bar(), learn.no_logging():
        learn.fine_tune(epochs)
    wall = time.perf_counter() - t0
    acc = [float(v[2]) for v in learn.recorder.values]
    return {"wall_s": wall, "valid": acc, "final": acc[-1], "best": max(acc), "test": test_accuracy(learn, spec)}


def parse_variant(text: str) -> dict:
    """"bs=64,epochs=2" -> {"bs": 64, "epochs": 2}: TrainConfig fields an engine variant changes."""
    from dataclasses import fields

    from tlstudio.core.config import TrainConfig

    types = {f.name: f.type for f in fields(TrainConfig)}
    changes = {}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        if key not in types:
            raise SystemExit(f"--variant: TrainConfig has no field {key!r}")
        default = getattr(TrainConfig(), key)
        if isinstance(default, bool):
            changes[key] = value.lower() in ("1", "true", "yes")
        elif default is None or value.lower() == "none":
            changes[key] = None if value.lower() == "none" else _number(value)
        else:
            changes[key] = type(default)(value)
    return changes


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


def engine(spec, size: int, seed: int, changes: dict | None = None) -> dict:
    from tlstudio.core.config import AugmentConfig, TrainConfig
    from tlstudio.core.training import run as training

    config = TrainConfig(augment=AugmentConfig(size=size), device="cpu", seed=seed).with_(**(changes or {}))
    t0 = time.perf_counter()
    result = training.run(spec, config, None)
    wall = time.perf_counter() - t0
    assert result.status == "completed", result.message
    acc = [e.metrics["accuracy"] for e in result.history]
    head = [e.metrics["accuracy"] for e in result.history if e.stage == 1]
    stage2 = [e.metrics["accuracy"] for e in result.history if e.stage == 2]
    return {
        "wall_s": wall,
        "valid": acc,
        "final": acc[-1],
        "best": max(acc),
        "kept": result.final_metrics["accuracy"],
        "head": head[-1] if head else None,
        "stage2_min": min(stage2) if stage2 else None,
        "test": test_accuracy(result.learn, spec),
        "message": result.message,
    }


def measure(datasets, seeds, size: int, epochs: int, out: Path, variants=()) -> None:
    from quality_data import dataset

    for seed in seeds:
        for name in datasets:
            spec = dataset(name)
            # Alternate the order so neither recipe always runs first.
            order = ["plain", "engine", *(f"engine[{v}]" for v in variants)]
            if seed % 2:
                order.reverse()
            for recipe in order:
                if recipe == "plain":
                    row = plain(spec, size, seed, epochs)
                else:
                    row = engine(spec, size, seed, parse_variant(recipe[len("engine["):-1]) if "[" in recipe else None)
                row.update(dataset=name, seed=seed, recipe=recipe, size=size, load_1min=os.getloadavg()[0])
                with out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)


def _stat(values) -> str:
    mean = statistics.fmean(values)
    spread = (max(values) - min(values)) / 2
    return f"{mean:.3f} ± {spread:.3f}"


def report(files) -> str:
    rows = [json.loads(line) for f in files for line in Path(f).read_text().splitlines() if line.strip()]
    lines = [
        "| dataset | recipe | seeds | test accuracy | best valid | final valid | kept valid | head valid | lowest stage-2 valid | wall s | wall / plain |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in DATASETS:
        ours = [r for r in rows if r["dataset"] == name]
        if not ours:
            continue
        walls = {}
        for r in ours:
            walls.setdefault(r["seed"], {})[r["recipe"]] = r["wall_s"]
        recipes = ["plain", "engine"] + sorted({r["recipe"] for r in ours} - {"plain", "engine"})
        for recipe in recipes:
            rs = [r for r in ours if r["recipe"] == recipe]
            if not rs:
                continue
            pick = lambda key: _stat([r[key] for r in rs]) if all(r.get(key) is not None for r in rs) else "-"  # noqa: E731
            ratios = [w[recipe] / w["plain"] for w in walls.values() if recipe in w and "plain" in w]
            ratio = _stat(ratios) if recipe != "plain" and ratios else "-"
            lines.append(
                f"| {name} | {recipe} | {len(rs)} | {pick('test')} | {pick('best')} | {pick('final')} | "
                f"{pick('kept') if recipe != 'plain' else '-'} | {pick('head')} | {pick('stage2_min')} | "
                f"{statistics.fmean(r['wall_s'] for r in rs):.0f} | {ratio} |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--size", type=int, default=32, help="image size for both recipes (32)")
    parser.add_argument("--epochs", type=int, default=3, help="N of the plain recipe's fine_tune(N) (3)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "quality.jsonl")
    parser.add_argument("--report", nargs="+", metavar="JSONL", help="print the table from these files and exit")
    parser.add_argument("--variant", action="append", default=[], metavar="FIELD=VALUE,...",
                        help="also run the engine with these TrainConfig fields changed, e.g. bs=64,epochs=2")
    args = parser.parse_args(argv)
    if args.report:
        print(report(args.report))
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    measure(args.datasets.split(","), seeds, args.size, args.epochs, args.out, args.variant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
