"""Plain-data events the engine emits while it works, and the reporter protocol.

Events hold floats, ints, strings and numpy arrays only, never tensors, so
they can cross threads (Qt queued signals) or be printed by the CLI without
touching torch.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class StageStart:
    stage: int  # 1: body frozen, head only; 2: unfrozen to `depth`
    name: str  # human description, e.g. "Head only (body frozen)"
    epochs: int
    n_batches: int  # training batches per epoch
    trainable_groups: int  # layer groups with requires_grad
    total_groups: int
    lrs: tuple[float, ...]  # peak learning rate per layer group


@dataclass(frozen=True)
class StageEnd:
    stage: int
    epochs_completed: int


@dataclass(frozen=True)
class BatchEnd:
    stage: int
    epoch: int  # 0-based within the stage
    batch: int  # 0-based within the epoch
    n_batches: int
    iteration: int  # training iterations since the run started
    smooth_loss: float
    lr: float  # learning rate of the last (head) group
    images_per_s: float


@dataclass(frozen=True)
class EpochEnd:
    stage: int
    epoch: int  # 0-based within the stage
    epochs: int  # epochs in this stage
    global_epoch: int  # 0-based across both stages
    train_loss: float
    valid_loss: float
    metrics: dict[str, float]  # e.g. {"accuracy": .91, "error_rate": .09, "f1_macro": .9}
    elapsed_s: float  # wall time of this epoch
    dropped: tuple[str, ...] = ()  # images that failed to decode so far in the run, left out of their split


def kept_metrics(history, kept_epoch: int | None) -> dict[str, float]:
    """Metrics (with the losses) of the kept epoch of a run's `EpochEnd` history; empty when none."""
    for e in history:
        if e.global_epoch == kept_epoch:
            return dict(e.metrics, valid_loss=e.valid_loss, train_loss=e.train_loss)
    return {}


def dropped_text(n: int) -> str:
    """How every output words `EpochEnd.dropped`: "2 images could not be decoded and were left out"."""
    return f"{n} image{'s' if n != 1 else ''} could not be decoded and {'were' if n != 1 else 'was'} left out"


@dataclass(frozen=True)
class EarlierEpochs:
    """A resumed run's epochs and batch losses from before it stopped (a project RunHistory),
    sent before its first new batch so a view can show the whole run."""

    history: object


@dataclass(frozen=True)
class FitEnd:
    status: str  # "completed" | "cancelled" | "failed"
    error: str = ""  # message when failed
    kept_epoch: int | None = None  # global epoch whose weights the learner holds
    detail: str = ""  # e.g. "Completed 6 epochs; kept best epoch 3 (stage 2 epoch 0, valid loss 0.41)"


@dataclass(frozen=True)
class DeviceSummary:
    """Where and how a run computes, sent once its learner is ready."""

    device: str  # "cpu", "cuda:0", "mps"
    name: str  # "NVIDIA H200", "CPU, 16 threads"
    precision: str  # "bf16 mixed precision" | "fp16 mixed precision" | "fp32"
    channels_last: bool
    bs: int  # the batch size each process trains with
    bs_note: str = ""  # e.g. "chosen from 120 GB free GPU memory"
    images: str = ""  # how images reach the model: "decoded once (...)" or "decoded every epoch (...)"

    def text(self) -> str:
        parts = [f"{self.device} ({self.name})", self.precision]
        if self.channels_last:
            parts.append("channels_last")
        parts.append(f"batch {self.bs}" + (f" ({self.bs_note})" if self.bs_note else ""))
        if self.images:
            parts.append(f"images {self.images}")
        return "Device: " + ", ".join(parts)


@dataclass(frozen=True)
class Progress:
    """Generic progress for long work: scanning, feature caching, evaluation."""

    task: str
    done: int
    total: int  # 0 when unknown
    message: str = ""


@dataclass(frozen=True)
class LrFindProgress:
    iteration: int
    total: int
    lr: float
    loss: float


@dataclass(frozen=True)
class LrSuggestion:
    name: str  # "valley" | "slide" | "minimum" | "steep"
    lr: float  # the suggested learning rate
    point_lr: float  # x of the marker on the curve (minimum: lr_min, not lr_min/10)
    point_loss: float  # y of the marker on the curve


@dataclass(frozen=True)
class LrFindResult:
    lrs: np.ndarray
    losses: np.ndarray  # raw batch losses
    smooth_losses: np.ndarray  # what fastai's recorder plots
    suggestions: tuple[LrSuggestion, ...]
    stage: int  # 1 = head only, 2 = unfrozen to `depth`
    depth: int | None  # groups trainable while it ran (None: all)
    cancelled: bool = False
    skipped: tuple[tuple[str, str], ...] = ()  # (suggestion name, reason) fastai could not compute

    def suggestion(self, name: str) -> LrSuggestion:
        return next(s for s in self.suggestions if s.name == name)


@dataclass(frozen=True)
class DownloadProgress:
    arch: str
    done_bytes: int
    total_bytes: int  # 0 when unknown


@dataclass(frozen=True)
class Message:
    level: str  # "info" | "warning" | "error"
    text: str


@runtime_checkable
class Reporter(Protocol):
    def emit(self, event: object) -> None: ...

    def cancel_requested(self) -> bool: ...


class NullReporter:
    def emit(self, event: object) -> None:
        pass

    def cancel_requested(self) -> bool:
        return False


@dataclass
class ListReporter:
    """Collects events in order; cancels once `cancel_when(event)` is true."""

    events: list = field(default_factory=list)
    cancel_when: object = None  # callable(event) -> bool
    _cancel: threading.Event = field(default_factory=threading.Event)

    def emit(self, event: object) -> None:
        self.events.append(event)
        if self.cancel_when is not None and self.cancel_when(event):
            self._cancel.set()

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def of_type(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


class Cancelled(Exception):
    """Raised by engine work (scan, feature caching, ...) when the reporter asks to stop."""
