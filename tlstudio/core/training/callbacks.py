"""The fastai callback that turns a training loop into engine events, honours
cancel, and remembers the weights of completed epochs.

One `RunLog` lives for a whole run (both stages, and the fast head's own
learner), so iteration counts, epoch numbers and weight snapshots continue
across the separate `fit_one_cycle` calls. The callback is always attached per
call (`fit_one_cycle(..., cbs=[...])`): `Learner.export` pickles permanent
callbacks, and a reporter must never end up inside a model file.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from fastai.callback.core import Callback, CancelFitException
from fastai.learner import Recorder

from tlstudio.core.events import BatchEnd, EpochEnd, Reporter, StageEnd, StageStart


def _state_copy(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# Accuracies this close are the same count of images right (float noise only).
ACCURACY_TIE = 1e-6


def _better(loss: float, accuracy: float, best: tuple[float, float]) -> bool:
    """Keep-best's rule: the highest validation accuracy, what the user reads in the epoch
    table; of equally accurate epochs, the lowest valid loss (the better calibrated one).
    Without an accuracy (every epoch -inf) the lowest valid loss.

    The lowest loss first (the rule before this one) handed back epochs up to 3.3 points
    less accurate than the run's best on the quality benchmark's small validation sets,
    where the two disagree often (docs/benchmarks.md, "Model quality")."""
    best_loss, best_accuracy = best
    if accuracy > best_accuracy + ACCURACY_TIE:
        return True
    tied = accuracy == best_accuracy or abs(accuracy - best_accuracy) <= ACCURACY_TIE
    return tied and loss < best_loss


@dataclass
class RunLog:
    """What one training run has done so far, shared by every stage's callback."""

    model: object  # the full model whose weights are snapshotted (not a fast-head sub-model)
    keep_best: bool = True
    patience: int | None = None  # epochs without a better valid loss before a stage stops
    iteration: int = 0  # training batches done in the whole run
    next_epoch: int = 0  # global index of the next epoch
    history: list[EpochEnd] = field(default_factory=list)
    position: tuple[int, int | None] = (1, None)  # (stage, epoch in stage) now running
    cancelled: bool = False
    stopped_early: bool = False
    dropped: dict[str, str] = field(default_factory=dict)  # path -> why it could not be decoded (core/data.py)
    _initial: dict | None = None
    _last: tuple[int, dict] | None = None  # (global epoch, weights)
    _best: tuple[int, tuple[float, float], dict] | None = None  # (global epoch, (valid loss, accuracy), weights)

    def __post_init__(self):
        self._initial = _state_copy(self.model)

    def epoch_completed(self, event: EpochEnd) -> None:
        self.history.append(event)
        self.next_epoch = event.global_epoch + 1
        state = _state_copy(self.model)
        self._last = (event.global_epoch, state)
        loss = event.valid_loss if math.isfinite(event.valid_loss) else math.inf
        accuracy = event.metrics.get("accuracy", math.nan)
        accuracy = accuracy if math.isfinite(accuracy) else -math.inf
        if self._best is None or _better(loss, accuracy, self._best[1]):
            self._best = (event.global_epoch, (loss, accuracy), state)

    def epochs_since_best(self, stage: int) -> int:
        """Completed epochs of `stage` after the best epoch of that stage."""
        ours = [e for e in self.history if e.stage == stage]
        if not ours:
            return 0
        best = min(range(len(ours)), key=lambda i: ours[i].valid_loss)
        return len(ours) - 1 - best

    def best_state(self) -> tuple[int, tuple[float, float], dict] | None:
        """(global epoch, (valid loss, accuracy), weights) of the best epoch so far: what a checkpoint keeps."""
        return self._best

    def resume_from(self, history: list[EpochEnd], *, iteration: int, best) -> None:
        """Continue a run from its checkpoint: `history` so far, the model's
        current weights as its last epoch's, and `best` as `best_state` gave it."""
        self.history = list(history)
        self.next_epoch = history[-1].global_epoch + 1
        self.iteration = iteration
        self._last = (history[-1].global_epoch, _state_copy(self.model))
        self._best = best

    @property
    def last_epoch(self) -> int | None:
        return None if self._last is None else self._last[0]

    @property
    def best_epoch(self) -> int | None:
        return None if self._best is None else self._best[0]

    def restore(self, *, finished: bool) -> int | None:
        """Load the weights the run should end with; returns their global epoch.

        A finished run keeps its final weights unless `keep_best` asks for the
        best epoch. An interrupted run (cancel, failure) never keeps the
        half-trained weights of an unfinished epoch."""
        if self.keep_best and self._best is not None:
            epoch, _, state = self._best
        elif finished and self._last is not None:
            return self._last[0]
        elif self._last is not None:
            epoch, state = self._last
        else:
            epoch, state = None, self._initial
        self.model.load_state_dict(state)
        return epoch


class ReporterCallback(Callback):
    """Emits StageStart/BatchEnd/EpochEnd/StageEnd and raises CancelFitException
    when the reporter asks to stop. Runs after `Recorder`, whose smoothed loss
    and epoch values it reads."""

    order = Recorder.order + 1

    def __init__(self, reporter: Reporter, run_log: RunLog, start: StageStart):
        self.reporter, self.run_log, self.start = reporter, run_log, start
        self.stage = start.stage
        self.epochs_done = 0

    def before_fit(self):
        self.epochs_done = 0
        self.run_log.position = (self.stage, 0)
        self.reporter.emit(self.start)
        self._check_cancel()

    def before_epoch(self):
        self._epoch_start = time.perf_counter()
        self.run_log.position = (self.stage, self.epoch)
        self._images = 0

    def before_batch(self):
        self._check_cancel()

    def after_batch(self):
        if self.training:
            log = self.run_log
            log.iteration += 1
            self._images += len(self.learn.xb[0]) if self.learn.xb else 0
            seconds = max(time.perf_counter() - self._epoch_start, 1e-9)
            self.reporter.emit(
                BatchEnd(
                    stage=self.stage,
                    epoch=self.epoch,
                    batch=self.iter,
                    n_batches=self.n_iter,
                    iteration=log.iteration,
                    smooth_loss=float(self.learn.smooth_loss),
                    lr=float(self.opt.hypers[-1]["lr"]),
                    images_per_s=self._images / seconds,
                )
            )
        self._check_cancel()

    def after_epoch(self):
        names = list(self.recorder.metric_names[1:])
        values = list(self.recorder.values[-1])
        row = {n: float(v) for n, v in zip(names, values) if n != "time"}
        event = EpochEnd(
            stage=self.stage,
            epoch=self.epoch,
            epochs=self.n_epoch,
            global_epoch=self.run_log.next_epoch,
            train_loss=row.pop("train_loss", math.nan),
            valid_loss=row.pop("valid_loss", math.nan),
            metrics=row,
            elapsed_s=time.perf_counter() - self._epoch_start,
            dropped=tuple(self.run_log.dropped),
        )
        self.run_log.epoch_completed(event)
        self.epochs_done += 1
        self.reporter.emit(event)
        patience = self.run_log.patience
        if patience is not None and self.epoch + 1 < self.n_epoch:
            if self.run_log.epochs_since_best(self.stage) > patience:
                self.run_log.stopped_early = True
                raise CancelFitException()

    def after_fit(self):
        self.reporter.emit(StageEnd(stage=self.stage, epochs_completed=self.epochs_done))

    def _check_cancel(self):
        if self.reporter.cancel_requested():
            self.run_log.cancelled = True
            raise CancelFitException()
