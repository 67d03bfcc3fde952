"""A run's evaluation as JSON: the figures people read, and the predictions that rebuild it.

The file holds the confusion matrix, per-class precision, recall, F1 and
support, accuracy, macro AUC and the top losses (paths and numbers) for
anyone reading it, and every item's label, prediction, probabilities and
loss, from which `load_evaluation` rebuilds the same `Interpretation` the
Evaluate page draws (ROC curves included). Paths are stored relative to the
dataset's folder, so the evaluation survives the dataset moving.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tlstudio.core.project.json_files import read_json, write_json
from tlstudio.core.project.layout import ProjectError

FORMAT = "tlstudio-evaluation"
FORMAT_VERSION = 1
TOP_LOSSES = 25  # listed for readers; every item's loss is in "items"


def dataset_base(spec) -> Path:
    """The folder item paths are stored relative to."""
    if spec.data_dir is not None:
        return Path(spec.data_dir)
    root = Path(spec.root)
    return root if root.is_dir() else root.parent


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(path).relative_to(base).as_posix()
    except ValueError:
        return str(path)  # outside the dataset folder (a CSV that names absolute paths)


def evaluation_to_dict(interp, base: Path) -> dict:
    s = interp.scores
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "split": interp.split,
        "classes": list(interp.classes),
        "n_items": len(interp),
        "accuracy": interp.accuracy,
        "macro_auc": interp.macro_auc,
        "confusion": interp.confusion.tolist(),
        "per_class": {"precision": s.precision.tolist(), "recall": s.recall.tolist(), "f1": s.f1.tolist(),
                      "support": s.support.tolist()},
        "macro": dict(s.macro),
        "weighted": dict(s.weighted),
        "top_losses": [
            {"path": _relative(t.path, base), "actual": t.actual, "predicted": t.predicted, "loss": t.loss,
             "prob_actual": t.prob_actual, "prob_predicted": t.prob_predicted}
            for t in interp.top_losses(TOP_LOSSES)
        ],
        "items": {
            "paths": [_relative(p, base) for p in interp.paths],
            "y_true": interp.y_true.tolist(),
            "y_pred": interp.y_pred.tolist(),
            "probs": interp.probs.tolist(),
            "losses": interp.losses.tolist(),
            "loss_order": [t.index for t in interp.top_losses()],
        },
    }


def evaluation_from_dict(data: dict, base: Path, source):
    from tlstudio.core.delivery.interpret import from_predictions

    try:
        items = data["items"]
        classes = [str(c) for c in data["classes"]]
        probs = np.asarray(items["probs"], dtype=np.float32).reshape(-1, len(classes))
        arrays = dict(
            y_true=np.asarray(items["y_true"], dtype=np.int64),
            y_pred=np.asarray(items["y_pred"], dtype=np.int64),
            losses=np.asarray(items["losses"], dtype=np.float32),
            loss_order=np.asarray(items["loss_order"], dtype=np.int64),
        )
        paths = [Path(base) / p for p in items["paths"]]
        n = len(paths)
        if len(probs) != n or any(len(a) != n for a in arrays.values()):
            raise ValueError("its columns have different lengths")
        if n and (arrays["y_true"].max() >= len(classes) or arrays["y_pred"].max() >= len(classes)):
            raise ValueError("a class index is out of range")
        return from_predictions(split=str(data["split"]), classes=classes, paths=paths, probs=probs, **arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProjectError(f"{source}: the evaluation is damaged ({type(exc).__name__}: {exc})") from None


def save_evaluation(path: Path, interp, base: Path) -> None:
    write_json(path, evaluation_to_dict(interp, base))


def load_evaluation(path: Path, base: Path):
    """The `Interpretation` stored in `path`, with item paths under `base`."""
    data = read_json(path, "evaluation", format_name=FORMAT, max_version=FORMAT_VERSION)
    return evaluation_from_dict(data, base, path)
