"""Predict a batch of dropped images and folders with one model.

Which of the dropped paths are images (everything else is named and skipped,
never opened as a dataset), which images sit in a folder that names their true
class, accuracy and the confusion matrix from the predictions, and the results
as CSV. Plain Python: the Predict page, the tests and any script use it alike.

A dropped folder is *labelled* when images inside it sit in subfolders named
after the model's classes (`folder/bag/1.png`, also `folder/valid/bag/1.png`):
the subfolder's name is then the image's true class. Only folders below the
dropped one count, so dropping `bag/` itself predicts its images without
claiming to know their class.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tlstudio.core.dataset.image_check import IMAGE_EXTENSIONS
from tlstudio.core.dataset.spec import SkippedFile
from tlstudio.core.events import Cancelled, NullReporter, Progress

MODEL_SUFFIXES = (".tlsmodel", ".pkl", ".onnx", ".pt")
CHUNK = 32  # images per predict call: progress and cancel are checked between chunks


@dataclass(frozen=True)
class BatchInputs:
    images: list[Path]  # in the order dropped, each folder's images sorted
    truth: dict[Path, str] = field(default_factory=dict)  # image -> the class its folder names
    skipped: list[SkippedFile] = field(default_factory=list)
    labelled_folders: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Score:
    classes: list[str]
    confusion: np.ndarray  # rows: actual class, columns: predicted class, in `classes` order

    @property
    def n_scored(self) -> int:
        return int(self.confusion.sum())

    @property
    def n_correct(self) -> int:
        return int(np.trace(self.confusion))

    @property
    def accuracy(self) -> float:
        return self.n_correct / self.n_scored if self.n_scored else float("nan")


@dataclass(frozen=True)
class BatchResult:
    inputs: BatchInputs
    predictions: list  # core.export.Prediction, in input order; fewer than the images when cancelled
    score: Score | None  # None when no predicted image has a known class
    cancelled: bool = False


def is_model_file(path) -> bool:
    return Path(path).suffix.lower() in MODEL_SUFFIXES


def is_image_file(path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def expand_inputs(paths, classes=()) -> BatchInputs:
    """The images among `paths` (folders walked recursively), the true class of
    those in labelled folders, and every other file with why it was skipped."""
    known = set(classes)
    images: list[Path] = []
    seen: set[Path] = set()
    truth: dict[Path, str] = {}
    skipped: list[SkippedFile] = []
    labelled: list[Path] = []

    def add(image: Path) -> bool:
        if image in seen:
            return False
        seen.add(image)
        images.append(image)
        return True

    for path in map(Path, paths):
        if path.is_dir():
            found_truth = False
            for file in sorted(p for p in path.rglob("*") if not p.is_dir()):
                if not is_image_file(file):
                    skipped.append(_not_an_image(file))
                elif add(file) and file.parent != path and file.parent.name in known:
                    truth[file] = file.parent.name
                    found_truth = True
            if found_truth:
                labelled.append(path)
        elif path.is_file():
            if is_image_file(path):
                add(path)
            else:
                skipped.append(_not_an_image(path))
        else:
            skipped.append(SkippedFile(path, "missing", f"'{path.name}' does not exist"))
    return BatchInputs(images, truth, skipped, labelled)


def _not_an_image(path: Path) -> SkippedFile:
    kind = "a model file, not an image" if is_model_file(path) else "not an image file"
    return SkippedFile(path, "not-an-image", f"'{path.name}' is {kind}")


def score(predictions, truth: dict[Path, str], classes) -> Score | None:
    """Confusion matrix of the predictions whose image has a known class and was read."""
    classes = list(classes)
    index = {c: i for i, c in enumerate(classes)}
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    for pred in predictions:
        actual = truth.get(Path(pred.path))
        if actual is None or pred.error or pred.label not in index:
            continue
        confusion[index[actual], index[pred.label]] += 1
    return Score(classes, confusion) if confusion.sum() else None


def in_memory_model(learn):
    """The trained learner in memory as a model `predict` takes, no file needed."""
    from tlstudio.core.delivery.export import loaded_from_learner

    return loaded_from_learner(learn)


def run_batch(model, paths, *, top_k: int | None = None, reporter=None) -> BatchResult:
    """Expand `paths` and predict every image with `model`, CHUNK images at a time.

    `top_k` None ranks every class, so a view can show any k without predicting
    again. When the reporter asks to stop, what was predicted so far is kept.
    """
    from tlstudio.core.delivery.export import predict

    reporter = reporter or NullReporter()
    classes = model.classes
    reporter.emit(Progress("Predicting", 0, 0, "finding images"))
    inputs = expand_inputs(paths, classes)
    if reporter.cancel_requested():
        raise Cancelled("cancelled while finding images")
    k = len(classes) if top_k is None else top_k
    total = len(inputs.images)
    predictions: list = []
    cancelled = False
    for start in range(0, total, CHUNK):
        if reporter.cancel_requested():
            cancelled = True
            break
        predictions += predict(model, inputs.images[start:start + CHUNK], top_k=k)
        reporter.emit(Progress("Predicting", len(predictions), total, f"{len(predictions)} of {total} images"))
    return BatchResult(inputs, predictions, score(predictions, inputs.truth, classes), cancelled)


CSV_HEADER = ("path", "predicted", "probability", "actual", "correct")


def csv_text(predictions, truth: dict[Path, str], top_k: int) -> str:
    """One row per image: the prediction, the true class when known, the top-k ranking, or the error."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    ranks = [f"{kind}_{i}" for i in range(1, top_k + 1) for kind in ("label", "prob")]
    writer.writerow([*CSV_HEADER, *ranks, "error"])
    for pred in predictions:
        actual = truth.get(Path(pred.path), "")
        correct = "" if not actual or pred.error else str(pred.label == actual).lower()
        prob = "" if pred.prob is None else f"{pred.prob:.6f}"
        ranked = [cell for label, p in pred.top_k[:top_k] for cell in (label, f"{p:.6f}")]
        ranked += [""] * (2 * top_k - len(ranked))
        writer.writerow([str(pred.path), pred.label or "", prob, actual, correct, *ranked, pred.error or ""])
    return out.getvalue()


def write_csv(path, predictions, truth: dict[Path, str], top_k: int) -> Path:
    """Writes `csv_text` to `path` atomically (a temp file beside it, then moved into place)."""
    from tlstudio.core.atomic_files import atomic_write_text

    path = Path(path)
    atomic_write_text(path, csv_text(predictions, truth, top_k), newline="")
    return path
