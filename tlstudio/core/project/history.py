"""A run's history: the epoch table and the per-batch losses, as plain data and as JSON.

`HistoryRecorder` is a reporter that passes every event on to the user's
reporter and keeps the per-batch losses (the epoch table is the RunLog's).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tlstudio.core.events import BatchEnd, EpochEnd
from tlstudio.core.project.layout import ProjectError

FORMAT = "tlstudio-history"
FORMAT_VERSION = 1
BATCH_FIELDS = ("iteration", "stage", "epoch", "smooth_loss", "lr")
_INT_FIELDS = ("iteration", "stage", "epoch")


def epoch_to_dict(e: EpochEnd) -> dict:
    return {
        "stage": e.stage, "epoch": e.epoch, "epochs": e.epochs, "global_epoch": e.global_epoch,
        "train_loss": e.train_loss, "valid_loss": e.valid_loss, "metrics": dict(e.metrics),
        "elapsed_s": e.elapsed_s, "dropped": list(e.dropped),
    }


def epoch_from_dict(d: dict, source) -> EpochEnd:
    try:
        return EpochEnd(
            stage=int(d["stage"]), epoch=int(d["epoch"]), epochs=int(d["epochs"]),
            global_epoch=int(d["global_epoch"]), train_loss=float(d["train_loss"]),
            valid_loss=float(d["valid_loss"]), metrics={str(k): float(v) for k, v in d["metrics"].items()},
            elapsed_s=float(d["elapsed_s"]), dropped=tuple(str(p) for p in d.get("dropped", ())),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProjectError(f"{source}: an epoch entry is damaged ({type(exc).__name__}: {exc})") from None


@dataclass
class BatchLosses:
    """One entry per training batch of the whole run, in order."""

    iteration: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    stage: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    epoch: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # within the stage, 0-based
    smooth_loss: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    lr: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))

    def __len__(self) -> int:
        return len(self.iteration)

    def to_dict(self) -> dict:
        return {name: getattr(self, name).tolist() for name in BATCH_FIELDS}

    @classmethod
    def from_dict(cls, d: dict, source) -> "BatchLosses":
        try:
            arrays = {name: np.asarray(d[name], dtype=np.int64 if name in _INT_FIELDS else np.float64)
                      for name in BATCH_FIELDS}
        except (KeyError, TypeError, ValueError) as exc:
            raise ProjectError(f"{source}: its batch losses are damaged ({type(exc).__name__}: {exc})") from None
        if len({len(a) for a in arrays.values()}) != 1 or any(a.ndim != 1 for a in arrays.values()):
            raise ProjectError(f"{source}: its batch losses are damaged (columns of different lengths)")
        return cls(**arrays)


@dataclass
class RunHistory:
    epochs: list[EpochEnd]
    batches: BatchLosses
    kept_epoch: int | None = None  # global epoch whose weights the run kept

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kept_epoch": self.kept_epoch,
            "epochs": [epoch_to_dict(e) for e in self.epochs],
            "batches": self.batches.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict, source) -> "RunHistory":
        epochs = d.get("epochs")
        if not isinstance(epochs, list):
            raise ProjectError(f"{source}: holds no epoch table")
        kept = d.get("kept_epoch")
        return cls([epoch_from_dict(e, source) for e in epochs], BatchLosses.from_dict(d.get("batches") or {}, source),
                   None if kept is None else int(kept))


class HistoryRecorder:
    """Forwards every event to `inner` and keeps the training batches' losses."""

    def __init__(self, inner, batches: BatchLosses | None = None):
        self.inner = inner
        self._rows: list[tuple] = []
        if batches is not None:
            self._rows = list(zip(*(getattr(batches, name).tolist() for name in BATCH_FIELDS)))

    def emit(self, event) -> None:
        if isinstance(event, BatchEnd):
            self._rows.append((event.iteration, event.stage, event.epoch, event.smooth_loss, event.lr))
        self.inner.emit(event)

    def cancel_requested(self) -> bool:
        return self.inner.cancel_requested()

    def batches(self, up_to_iteration: int | None = None) -> BatchLosses:
        """The losses so far; with `up_to_iteration`, only those of batches up to it."""
        rows = [r for r in self._rows if up_to_iteration is None or r[0] <= up_to_iteration]
        columns = list(zip(*rows)) if rows else [()] * len(BATCH_FIELDS)
        return BatchLosses(*(np.asarray(c, dtype=np.int64 if name in _INT_FIELDS else np.float64)
                             for name, c in zip(BATCH_FIELDS, columns)))
