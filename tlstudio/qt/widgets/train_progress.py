"""Training progress: one bar over both stages, and a line with stage, epoch,
batch, images/s and the estimated time left.

Like the curves, events are only recorded; `flush()` redraws (timer-driven).
"""
from __future__ import annotations

import time

from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from tlstudio.core.durations import format_duration


class TrainProgress(QWidget):
    def __init__(self, parent: QWidget | None = None, clock=time.monotonic):
        super().__init__(parent)
        self._clock = clock
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setTextVisible(True)
        self.label = QLabel("Ready.")
        self.label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.label)
        self.reset({})

    def reset(self, stage_epochs: dict[int, int]) -> None:
        """`stage_epochs`: planned epochs per stage, e.g. {1: 1, 2: 3}."""
        self._stage_epochs = dict(stage_epochs)
        self._stage_batches: dict[int, int] = {}
        self._stage = None
        self._stage_name = ""
        self._done_before_stage = 0
        self._batch = None
        self._stage_started = None
        self._stage_iters = 0
        self._note = ""
        self._dirty = True

    # -- recording ------------------------------------------------------------
    def start_stage(self, ev) -> None:
        if self._stage is not None:
            self._done_before_stage += self._stage_iters
        self._stage, self._stage_name = ev.stage, ev.name
        self._stage_epochs[ev.stage] = ev.epochs
        self._stage_batches[ev.stage] = ev.n_batches
        self._stage_started = self._clock()
        self._stage_iters = 0
        self._batch = None
        self._note = ""
        self._dirty = True

    def add_batch(self, ev) -> None:
        self._batch = ev
        self._stage_iters = ev.epoch * ev.n_batches + ev.batch + 1
        self._note = ""
        self._dirty = True

    def note(self, text: str) -> None:
        """Work between batches (feature caching, validation): shown instead of the batch line."""
        self._note = text
        self._dirty = True

    def finish(self, text: str, completed: bool = False) -> None:
        """The run ended: a full bar only when it `completed`; a cancelled or
        failed run keeps the share it got through."""
        total = max(self.total_iterations(), 1)
        self.bar.setRange(0, total)
        self.bar.setValue(total if completed else min(self.done_iterations(), total))
        self.label.setText(text)
        self._dirty = False

    # -- figures ----------------------------------------------------------------
    def total_iterations(self) -> int:
        known = next(iter(self._stage_batches.values()), 0)
        return sum(e * self._stage_batches.get(s, known) for s, e in self._stage_epochs.items())

    def done_iterations(self) -> int:
        return self._done_before_stage + self._stage_iters

    def eta_seconds(self) -> float | None:
        if not self._stage_iters or self._stage_started is None:
            return None
        per_iter = (self._clock() - self._stage_started) / self._stage_iters
        return max(self.total_iterations() - self.done_iterations(), 0) * per_iter

    def status_text(self) -> str:
        if self._stage is None:
            return self._note or "Starting…"
        parts = [f"Stage {self._stage}: {self._stage_name}"]
        b = self._batch
        if b is not None:
            parts += [
                f"epoch {b.epoch + 1}/{self._stage_epochs.get(self._stage, '?')}",
                f"batch {b.batch + 1}/{b.n_batches}",
                f"{b.images_per_s:,.0f} images/s",
                f"ETA {format_duration(self.eta_seconds(), 'estimating…')}",
            ]
        if self._note:
            parts.append(self._note)
        return "  ·  ".join(parts)

    def flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        total = max(self.total_iterations(), 1)
        self.bar.setRange(0, total)
        self.bar.setValue(min(self.done_iterations(), total))
        self.label.setText(self.status_text())
