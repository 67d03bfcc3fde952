"""What an evaluation found, as plain data (no torch, no fastai): the window unpickles it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SPLIT_NAMES = ("valid", "test")


@dataclass(frozen=True)
class TopLoss:
    index: int  # row in the Interpretation arrays
    path: Path
    actual: str
    predicted: str
    loss: float
    prob_actual: float
    prob_predicted: float


@dataclass(frozen=True)
class RocCurve:
    label: str
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float  # nan when the split holds no positive or no negative for this class


@dataclass(frozen=True)
class ClassScores:
    precision: np.ndarray  # one per class, in `classes` order
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    macro: dict[str, float]  # precision, recall, f1
    weighted: dict[str, float]


@dataclass
class Interpretation:
    split: str
    classes: list[str]
    paths: list[Path]
    y_true: np.ndarray  # (n,) class indices
    y_pred: np.ndarray  # (n,)
    probs: np.ndarray  # (n, c), softmax
    losses: np.ndarray  # (n,) per-item loss
    confusion: np.ndarray  # (c, c), rows actual, columns predicted
    scores: ClassScores
    accuracy: float
    roc: list[RocCurve]  # one per class, one-vs-rest
    macro_auc: float  # mean AUC over classes where it is defined
    _loss_order: np.ndarray = field(repr=False, default=None)  # indices by loss, largest first

    def __len__(self) -> int:
        return len(self.y_true)

    def most_confused(self, min_count: int = 1) -> list[tuple[str, str, int]]:
        """Off-diagonal cells with at least `min_count` items, most frequent first
        (ties in row-major order, as fastai's `most_confused`)."""
        cells = [
            (self.classes[i], self.classes[j], int(self.confusion[i, j]))
            for i, j in zip(*np.where(self.confusion >= min_count))
            if i != j
        ]
        return sorted(cells, key=lambda cell: cell[2], reverse=True)

    def top_losses(self, k: int | None = None) -> list[TopLoss]:
        order = self._loss_order[: len(self) if k is None else k]
        return [self._record(int(i)) for i in order]

    def _record(self, i: int) -> TopLoss:
        a, p = int(self.y_true[i]), int(self.y_pred[i])
        return TopLoss(
            index=i,
            path=self.paths[i],
            actual=self.classes[a],
            predicted=self.classes[p],
            loss=float(self.losses[i]),
            prob_actual=float(self.probs[i, a]),
            prob_predicted=float(self.probs[i, p]),
        )

    def items_in_cell(self, actual: int, predicted: int) -> list[int]:
        """Indices of the items whose actual class is `actual` and prediction `predicted`."""
        return np.flatnonzero((self.y_true == actual) & (self.y_pred == predicted)).tolist()

    def report_text(self, digits: int = 3) -> str:
        """scikit-learn's classification report, for the console."""
        from sklearn.metrics import classification_report

        return classification_report(
            self.y_true, self.y_pred, labels=range(len(self.classes)), target_names=self.classes,
            digits=digits, zero_division=0,
        )
