"""A training run in a child process, reported here as the usual plain events.

Why a process: a training thread inside the window's process shares the GIL
with the event loop, and every redraw or timer tick holds up fastai's
per-batch Python. Measured on 2 cores, that thread trained at 65-81% of a
headless run's speed whatever the redraw rate, GIL switch interval or torch
thread count (docs/benchmarks.md, "GUI training"). A child process has its own
interpreter, so the window costs it only the CPU the window really uses.

The contract is `training.run`'s: events through `reporter.emit`, cancel
through `reporter.cancel_requested`, a `TrainResult` back. The child runs
`target(spec, config, reporter)` (default `training.run`) with a reporter that
queues events and reads a shared cancel flag; this process forwards them. The
trained weights come back as a state-dict file, and this process rebuilds the
same learner around them: the dataset's splits are fixed in the spec, so the
rebuilt DataLoaders hold the same training and validation images.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue as queue_module
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

from tlstudio.core.config import TrainConfig
from tlstudio.core.dataset import DatasetSpec
from tlstudio.core.errors import UserFacingError
from tlstudio.core.events import Cancelled, EpochEnd, NullReporter, Progress, Reporter

log = logging.getLogger(__name__)

POLL_S = 0.05  # how often the forwarding loop looks at the cancel flag and the child's health
JOIN_S = 30.0  # after its last message the child only flushes its queue and exits
# "spawn", never "fork": forking a process that runs Qt and torch threads can deadlock the child.
_CONTEXT = mp.get_context("spawn")


class TrainingProcessError(UserFacingError):
    """The child failed in a way the user should hear about, in one line."""


@dataclass(frozen=True)
class _Outcome:
    """Everything of a TrainResult but the learner, which cannot cross processes."""

    history: list[EpochEnd]
    status: str
    kept_epoch: int | None
    message: str
    frozen_idx: int
    weights_origin: str


class _QueueReporter:
    def __init__(self, events, cancel) -> None:
        self._events, self._cancel = events, cancel

    def emit(self, event: object) -> None:
        self._events.put(("event", event))

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()


def _exit_with_parent() -> None:
    """A child whose window was killed must not train on unseen."""
    parent = mp.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _train(spec: DatasetSpec, config: TrainConfig, reporter: Reporter):
    from tlstudio.core import training

    return training.run(spec, config, reporter)


def _child_main(events, cancel, spec, config, target, weights_path: str) -> None:
    _exit_with_parent()
    try:
        result = (target or _train)(spec, config, _QueueReporter(events, cancel))
        if result is None:  # a target that produced no model (cancelled before one existed)
            events.put(("none", None))
        else:
            import torch

            learn = result.learn
            torch.save(learn.model.state_dict(), weights_path)
            frozen = learn.opt.frozen_idx if learn.opt is not None else 0
            origin = getattr(learn, "weights_origin", "")
            events.put(("done", _Outcome(result.history, result.status, result.kept_epoch, result.message, frozen, origin)))
    except Cancelled:
        events.put(("cancelled", None))
    except UserFacingError as exc:
        events.put(("user_error", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - everything must reach the parent as text
        events.put(("error", (f"{type(exc).__name__}: {exc}", traceback.format_exc())))
    finally:
        events.close()
        events.join_thread()  # every message is in the pipe before the process ends
    # Skip the interpreter's teardown (a second or two with torch loaded): nothing is left to flush.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _exit_text(code: int | None) -> str:
    why = "; the system stopped it, perhaps for lack of memory" if code in (-9, 137) else ""
    return f"The training process stopped unexpectedly (exit code {code}{why})."


def _forward(proc, events, cancel, reporter: Reporter) -> tuple[str, object]:
    """Pass the child's events on until its final message; relay cancel."""
    while True:
        if reporter.cancel_requested() and not cancel.is_set():
            cancel.set()
        try:
            kind, payload = events.get(timeout=POLL_S)
        except queue_module.Empty:
            if proc.is_alive():
                continue
            try:  # it may have exited just after its last put
                kind, payload = events.get(timeout=1.0)
            except queue_module.Empty:
                raise TrainingProcessError(_exit_text(proc.exitcode)) from None
        if kind == "event":
            reporter.emit(payload)
        else:
            return kind, payload


def _stop(proc, cancel) -> None:
    cancel.set()
    proc.join(JOIN_S)
    if proc.is_alive():
        log.warning("training process did not exit; terminating it")
        proc.terminate()
        proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()


def rebuild_learner(spec: DatasetSpec, config: TrainConfig, weights_path, *, frozen_idx: int = 0, weights_origin: str = ""):
    """The learner `training.prepare_learner` builds, holding the trained weights."""
    import torch

    from tlstudio.core.training import prepare_learner

    # Built without its pretrained weights: the trained ones replace them at once.
    learn = prepare_learner(spec, config.with_(pretrained=False))
    learn.model.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    learn.freeze_to(frozen_idx)
    learn.weights_origin = weights_origin
    return learn


def run_in_process(spec: DatasetSpec, config: TrainConfig, reporter: Reporter | None = None, *, target=None):
    """`training.run` in a child process; returns its TrainResult, rebuilt here.

    `target(spec, config, reporter)` replaces `training.run` in the child; it
    must be picklable (a module-level function). Returns None when the target
    returned None. Raises `Cancelled` when the child was cancelled before it
    had a model, and `UserFacingError` (its message) when it failed."""
    reporter = reporter or NullReporter()
    events, cancel = _CONTEXT.Queue(), _CONTEXT.Event()
    with tempfile.TemporaryDirectory(prefix="tlstudio-train-") as tmp:
        weights = Path(tmp) / "weights.pth"
        proc = _CONTEXT.Process(
            target=_child_main, args=(events, cancel, spec, config, target, str(weights)), name="tlstudio-training"
        )
        reporter.emit(Progress("start", 0, 0, "Starting the training process…"))
        proc.start()
        try:
            kind, payload = _forward(proc, events, cancel, reporter)
            # The child exits while this process rebuilds the learner.
            return _result(kind, payload, spec, config, weights, reporter)
        finally:
            _stop(proc, cancel)
            events.close()


def _result(kind: str, payload, spec, config, weights: Path, reporter: Reporter):
    if kind == "none":
        return None
    if kind == "cancelled":
        raise Cancelled("cancelled before a model was built")
    if kind == "user_error":
        raise TrainingProcessError(payload)
    if kind == "error":
        text, trace = payload
        log.error("training process failed:\n%s", trace)
        raise TrainingProcessError(text)
    from tlstudio.core.training import TrainResult

    outcome: _Outcome = payload
    reporter.emit(Progress("load", 0, 0, "Loading the trained model…"))
    learn = rebuild_learner(spec, config, weights, frozen_idx=outcome.frozen_idx, weights_origin=outcome.weights_origin)
    return TrainResult(learn, spec, config, outcome.history, outcome.status, outcome.kept_epoch, outcome.message)
