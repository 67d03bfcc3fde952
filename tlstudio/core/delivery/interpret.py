"""How a trained model does on one split: confusion, top losses, per-class scores, ROC.

Predictions come from one `learn.get_preds(..., with_loss=True)` pass (with a
per-call callback for progress and cancel); fastai's
`ClassificationInterpretation` orders the top losses and scikit-learn gives the
per-class scores and ROC curves. The result holds numpy arrays and lists only,
so it can cross threads and outlive the learner.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from fastai.callback.core import Callback, CancelValidException
from fastai.interpret import ClassificationInterpretation
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score, roc_curve

from tlstudio.core.dataset.loaders import recording_decode_failures, split_dataloader
from tlstudio.core.dataset.spec import DatasetError
from tlstudio.core.events import Cancelled, NullReporter, Progress

from tlstudio.core.delivery.interpretation import (  # noqa: F401  (the names callers import from here)
    SPLIT_NAMES,
    TopLoss,
    RocCurve,
    ClassScores,
    Interpretation,
)


class PredictionProgress(Callback):
    """Per-call callback for `get_preds`: progress per batch, and a cancel that
    ends the pass cleanly (fastai's `CancelValidException`)."""

    def __init__(self, reporter, task: str, total: int):
        self.reporter, self.task, self.total = reporter, task, total
        self.done, self.cancelled = 0, False

    def before_batch(self):
        if self.reporter.cancel_requested():
            self.cancelled = True
            raise CancelValidException()

    def after_batch(self):
        self.done += 1
        self.reporter.emit(Progress(self.task, self.done, self.total))


def interpret(learn, spec, split: str = "valid", reporter=None, *, dl=None) -> Interpretation:
    """Run the model over `split` of `spec` and measure it.

    Works on a freshly loaded export too (its DataLoaders are empty: the
    items come from `spec`). `dl` overrides the split's DataLoader. Raises
    `events.Cancelled` when the reporter asks to stop."""
    if split not in SPLIT_NAMES:
        raise ValueError(f"split must be one of {SPLIT_NAMES}, not {split!r}")
    reporter = reporter or NullReporter()
    if dl is None:
        dl = _split_dl(learn, spec, split)
    dl = dl.new(shuffle=False, drop_last=False)
    cb = PredictionProgress(reporter, f"Evaluating on {split}", len(dl))
    failed: dict[str, str] = {}  # files that no longer decode are left out of the pass (core/data.py)
    try:
        with learn.no_bar(), recording_decode_failures(failed):
            # In item order (dl is not shuffled): fastai's reordering breaks on a skipped item.
            probs, targs, decoded, losses = learn.get_preds(
                dl=dl, with_decoded=True, with_loss=True, cbs=[cb], reorder=False)
    except Exception:
        if not cb.cancelled:
            raise
        probs = None  # fastai cannot gather an empty pass; a cancel is all that happened
    if cb.cancelled or reporter.cancel_requested():
        raise Cancelled(f"evaluation on {split} cancelled")
    fastai_interp = ClassificationInterpretation(learn, dl, losses)
    _, loss_order = fastai_interp.top_losses()
    return _measure(
        split=split,
        classes=[str(c) for c in fastai_interp.vocab],
        paths=[p for p in _item_paths(dl.items) if str(p) not in failed],
        y_true=targs.numpy().astype(np.int64).ravel(),
        y_pred=decoded.numpy().astype(np.int64).ravel(),
        probs=probs.float().numpy(),
        losses=losses.float().numpy(),
        loss_order=loss_order.numpy(),
    )


def _split_dl(learn, spec, split: str):
    """The split's DataLoader; a loaded model keeps no data, so the split's
    items come from `spec` through the model's own pipeline."""
    if len(learn.dls.valid_ds) == 0:
        from tlstudio.core.delivery.inference_data import labelled_dl

        idx = spec.indices(split)
        if not idx:
            raise DatasetError(f"{spec.root}: the dataset has no '{split}' split")
        from tlstudio.core.dataset.cached_loader import with_existing_cache

        return with_existing_cache(labelled_dl(learn, [spec.items[i] for i in idx], [spec.labels[i] for i in idx]), spec)
    return split_dataloader(learn.dls, spec, split)


def _item_paths(items) -> list[Path]:
    if hasattr(items, "columns"):  # the DataFrame from data.items_frame
        return [Path(p) for p in items["path"]]
    return [Path(p) for p in items]


def from_predictions(*, split, classes, paths, y_true, y_pred, probs, losses, loss_order) -> Interpretation:
    """An Interpretation measured from stored predictions (a project's evaluation.json)."""
    return _measure(split=split, classes=classes, paths=paths, y_true=y_true, y_pred=y_pred, probs=probs,
                    losses=losses, loss_order=loss_order)


def _measure(*, split, classes, paths, y_true, y_pred, probs, losses, loss_order) -> Interpretation:
    c = len(classes)
    labels = np.arange(c)
    confusion = np.zeros((c, c), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    averages = {
        avg: dict(zip(("precision", "recall", "f1"), map(float, precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=avg, zero_division=0)[:3])))
        for avg in ("macro", "weighted")
    }
    roc = [_roc_curve(classes[k], y_true == k, probs[:, k]) for k in range(c)]
    aucs = [curve.auc for curve in roc if not np.isnan(curve.auc)]
    return Interpretation(
        split=split,
        classes=classes,
        paths=paths,
        y_true=y_true,
        y_pred=y_pred,
        probs=probs,
        losses=losses,
        confusion=confusion,
        scores=ClassScores(p, r, f, s, averages["macro"], averages["weighted"]),
        accuracy=float((y_true == y_pred).mean()) if len(y_true) else float("nan"),
        roc=roc,
        macro_auc=float(np.mean(aucs)) if aucs else float("nan"),
        _loss_order=loss_order,
    )


def _roc_curve(label: str, positive: np.ndarray, scores: np.ndarray) -> RocCurve:
    if positive.all() or not positive.any():
        empty = np.array([], dtype=np.float64)
        return RocCurve(label, empty, empty, empty, float("nan"))
    fpr, tpr, thresholds = roc_curve(positive, scores)
    return RocCurve(label, fpr, tpr, thresholds, float(roc_auc_score(positive, scores)))
