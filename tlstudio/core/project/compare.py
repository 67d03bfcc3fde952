"""Two or more runs side by side: their curves and their per-class F1, as arrays to plot.

Curves are per epoch (x: the global epoch, 1-based, as people count) and
per batch (x: the training iteration). F1 comes from each run's
evaluation.json; a class that a run's evaluation lacks, or a run without
an evaluation (not complete), gives NaN. Differences are against the first
run given, the baseline.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tlstudio.core.project.json_files import read_json
from tlstudio.core.project.layout import EVALUATION_FILE, ProjectError
from tlstudio.core.project.run_summaries import differing_settings, run_history, summarize
from tlstudio.core.project.runs import get_run


@dataclass(frozen=True)
class RunCurves:
    number: int
    epoch: np.ndarray  # global epoch, 1-based
    stage: np.ndarray
    train_loss: np.ndarray
    valid_loss: np.ndarray
    metrics: dict[str, np.ndarray]  # accuracy, error_rate, f1_macro, ... one value per epoch
    iteration: np.ndarray  # one per training batch
    batch_loss: np.ndarray  # fastai's smoothed training loss
    batch_lr: np.ndarray  # the head group's learning rate


@dataclass(frozen=True)
class RunComparison:
    runs: tuple[int, ...]
    curves: tuple[RunCurves, ...]
    settings: dict[int, dict]  # run -> the settings that differ between these runs
    classes: tuple[str, ...]  # the union of the runs' classes, the baseline's first
    f1: np.ndarray  # (runs, classes); NaN where a run has no score for the class
    f1_diff: np.ndarray  # (runs, classes): f1 minus the baseline's (row 0 is zero where defined)
    accuracy: np.ndarray  # (runs,) on the evaluation's split; NaN without one


def run_curves(root: Path, number: int) -> RunCurves:
    history = run_history(get_run(Path(root), number))
    epochs = history.epochs
    names = list(dict.fromkeys(name for e in epochs for name in e.metrics))
    b = history.batches
    return RunCurves(
        number=number,
        epoch=np.array([e.global_epoch + 1 for e in epochs], dtype=np.int64),
        stage=np.array([e.stage for e in epochs], dtype=np.int64),
        train_loss=np.array([e.train_loss for e in epochs], dtype=np.float64),
        valid_loss=np.array([e.valid_loss for e in epochs], dtype=np.float64),
        metrics={n: np.array([e.metrics.get(n, np.nan) for e in epochs], dtype=np.float64) for n in names},
        iteration=b.iteration, batch_loss=b.smooth_loss, batch_lr=b.lr,
    )


def _scores(folder: Path) -> tuple[list[str], list[float], float] | None:
    path = folder / EVALUATION_FILE
    if not path.is_file():
        return None
    data = read_json(path, "evaluation", format_name="tlstudio-evaluation", max_version=1)
    try:
        classes = [str(c) for c in data["classes"]]
        f1 = [float(v) for v in data["per_class"]["f1"]]
        if len(f1) != len(classes):
            raise ValueError("one F1 per class expected")
        return classes, f1, float(data["accuracy"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProjectError(f"{path}: the evaluation is damaged ({type(exc).__name__}: {exc})") from None


def compare_runs(root, numbers) -> RunComparison:
    root = Path(root)
    numbers = tuple(dict.fromkeys(int(n) for n in numbers))
    if len(numbers) < 2:
        raise ProjectError("compare two or more runs")
    records = [get_run(root, n) for n in numbers]
    scores = [_scores(r.folder) for r in records]
    classes = list(dict.fromkeys(c for s in scores if s for c in s[0]))
    f1 = np.full((len(records), len(classes)), np.nan)
    accuracy = np.full(len(records), np.nan)
    for i, s in enumerate(scores):
        if s:
            for c, value in zip(s[0], s[1]):
                f1[i, classes.index(c)] = value
            accuracy[i] = s[2]
    summaries = [summarize(r) for r in records]
    differ = differing_settings(summaries)
    return RunComparison(
        runs=numbers,
        curves=tuple(run_curves(root, n) for n in numbers),
        settings={s.number: {k: s.settings.get(k) for k in differ} for s in summaries},
        classes=tuple(classes),
        f1=f1,
        f1_diff=f1 - f1[0],
        accuracy=accuracy,
    )
