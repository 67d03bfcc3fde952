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

The LR finder runs the same way (`LrFindJob`): its result is plain data and
comes back as it is.

Starting a child costs its imports (torch and fastai: seconds on a small
machine). `prestart()` starts one ahead of time, which imports them and then
waits for its run, so the window can have one ready before Start is pressed.
Each child runs one training and exits.
"""
from __future__ import annotations

import atexit
import logging
import multiprocessing as mp
import multiprocessing.util  # noqa: F401 - registers its exit hook before ours (see _stop_all)
import os
import queue as queue_module
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

from tlstudio.core.config import TrainConfig
from tlstudio.core.dataset.spec import DatasetSpec
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
    config: TrainConfig  # as it ran: the depth an automatic choice picked


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
    from tlstudio.core.training import run as training

    return training.run(spec, config, reporter)


def save_weights(model, path) -> None:
    """The state dict `LrFindJob(weights=path)` starts from, written by the process that holds the model."""
    import torch

    torch.save(model.state_dict(), path)


@dataclass(frozen=True)
class LrFindJob:
    """`lr_find.find_lr` for one stage, as a child-process target. Stage 2
    starts from `weights` (a state-dict file of a trained model) when given."""

    stage: int
    options: dict
    weights: str | None = None

    def __call__(self, spec: DatasetSpec, config: TrainConfig, reporter: Reporter):
        from tlstudio.core.training.lr_find import find_lr

        learn = None
        if self.weights is not None:
            import torch

            from tlstudio.core.training.run import prepare_learner

            learn = prepare_learner(spec, config)
            learn.model.load_state_dict(torch.load(self.weights, map_location="cpu", weights_only=True))
        return find_lr(
            spec, config, unfreeze_depth=config.unfreeze_depth, stage=self.stage, reporter=reporter, learn=learn,
            **self.options,
        )


def _child_main(jobs, events, cancel, preload: bool) -> None:
    """Wait for one job, run it, exit. A prestarted child does the slow imports first."""
    _exit_with_parent()
    if preload:
        import tlstudio.core.training.run  # noqa: F401

    try:
        job = jobs.recv()
    except EOFError:  # the parent discarded this spare
        job = None
    if job is not None:
        _run_job(events, cancel, *job)
        events.close()
        events.join_thread()  # every message is in the pipe before the process ends
    # Skip the interpreter's teardown (a second or two with torch loaded): nothing is left to flush.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _run_job(events, cancel, spec, config, target, weights_path: str) -> None:
    try:
        result = (target or _train)(spec, config, _QueueReporter(events, cancel))
        if result is None:  # a target that produced no model (cancelled before one existed)
            events.put(("none", None))
        elif not hasattr(result, "learn"):  # plain data (an LR finder result): as it is
            events.put(("value", result))
        else:
            import torch

            learn = result.learn
            torch.save(learn.model.state_dict(), weights_path)
            frozen = learn.opt.frozen_idx if learn.opt is not None else 0
            origin = getattr(learn, "weights_origin", "")
            outcome = _Outcome(result.history, result.status, result.kept_epoch, result.message, frozen, origin, result.config)
            events.put(("done", outcome))
    except Cancelled:
        events.put(("cancelled", None))
    except UserFacingError as exc:
        events.put(("user_error", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - everything must reach the parent as text
        events.put(("error", (f"{type(exc).__name__}: {exc}", traceback.format_exc())))


class _Worker:
    """One child process and its channels: a job pipe, an event queue, a cancel flag."""

    def __init__(self, *, preload: bool = False) -> None:
        self.events, self.cancel = _CONTEXT.Queue(), _CONTEXT.Event()
        jobs_in, self._jobs = _CONTEXT.Pipe(duplex=False)
        args = (jobs_in, self.events, self.cancel, preload)
        self.proc = _CONTEXT.Process(target=_child_main, args=args, name="tlstudio-training")
        self.proc.start()
        jobs_in.close()  # the child holds its end; closing ours lets it see EOF if we go away
        _live.add(self)

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.is_alive()

    def submit(self, job: tuple) -> None:
        self._jobs.send(job)

    def stop(self, *, now: bool = False) -> None:
        """Let it finish (cancelled), or end it at once (`now`: it holds no work
        worth waiting for); then release the channels."""
        self.cancel.set()
        if now:
            self.proc.terminate()
        self._jobs.close()  # a spare still waiting for its job sees EOF and exits
        self.proc.join(JOIN_S)
        if self.proc.is_alive():
            log.warning("training process did not exit; terminating it")
            self.proc.terminate()
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.events.close()
        _live.discard(self)


_live: set[_Worker] = set()


@atexit.register
def _stop_all() -> None:
    """At interpreter exit, end every child at once. multiprocessing's own exit
    hook joins non-daemon children (ours cannot be daemons: a DataLoader with
    workers starts processes of its own) and would wait for a spare or a whole
    run. Registered after multiprocessing.util's hook, so it runs first."""
    for worker in list(_live):
        worker.stop(now=True)


_spare: _Worker | None = None
_spare_lock = threading.Lock()


def prestart() -> int | None:
    """Have a training process ready (imports done) for the next run; its pid."""
    global _spare
    with _spare_lock:
        if _spare is None or not _spare.alive():
            _spare = _Worker(preload=True)
        return _spare.pid


def discard_spare() -> None:
    """End the ready process, if any (the window is closing)."""
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None:
        spare.stop(now=True)  # it has no job yet: nothing to wait for


def _take_worker() -> _Worker:
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None and spare.alive():
        return spare
    if spare is not None:
        spare.stop(now=True)
    return _Worker()


def _exit_text(code: int | None) -> str:
    why = "; the system stopped it, perhaps for lack of memory" if code in (-9, 137) else ""
    return f"The training process stopped unexpectedly (exit code {code}{why})."


def _forward(worker: _Worker, reporter: Reporter) -> tuple[str, object]:
    """Pass the child's events on until its final message; relay cancel."""
    proc, events, cancel = worker.proc, worker.events, worker.cancel
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


def rebuild_learner(spec: DatasetSpec, config: TrainConfig, weights_path, *, frozen_idx: int = 0, weights_origin: str = ""):
    """The learner `training.prepare_learner` builds, holding the trained weights."""
    import torch

    from tlstudio.core.training.run import prepare_learner

    # Built without its pretrained weights: the trained ones replace them at once.
    learn = prepare_learner(spec, config.with_(pretrained=False))
    learn.model.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    learn.freeze_to(frozen_idx)
    learn.weights_origin = weights_origin
    return learn


def run_in_process(spec: DatasetSpec, config: TrainConfig, reporter: Reporter | None = None, *, target=None):
    """`training.run` in a child process; returns its TrainResult, rebuilt here.

    Uses the process `prestart()` readied, if any. `target(spec, config,
    reporter)` replaces `training.run` in the child; it must be picklable (a
    module-level function, or an instance such as `LrFindJob`). A result
    without a learner comes back as it is; None when the target returned None.
    Raises `Cancelled` when the child was cancelled before it had a model, and
    `UserFacingError` (its message) when it failed."""
    reporter = reporter or NullReporter()
    with tempfile.TemporaryDirectory(prefix="tlstudio-train-") as tmp:
        weights = Path(tmp) / "weights.pth"
        reporter.emit(Progress("start", 0, 0, "Starting the training process…"))
        job = (spec, config, target, str(weights))
        worker = _take_worker()
        try:
            try:
                worker.submit(job)
            except OSError:  # the ready process died since it was checked: start another
                worker.stop()
                worker = _Worker()
                worker.submit(job)
            kind, payload = _forward(worker, reporter)
            # The child exits while this process rebuilds the learner.
            return _result(kind, payload, spec, config, weights, reporter)
        finally:
            worker.stop()


def _result(kind: str, payload, spec, config, weights: Path, reporter: Reporter):
    if kind == "none":
        return None
    if kind == "value":
        return payload
    if kind == "cancelled":
        raise Cancelled("cancelled before a model was built")
    if kind == "user_error":
        raise TrainingProcessError(payload)
    if kind == "error":
        text, trace = payload
        log.error("training process failed:\n%s", trace)
        raise TrainingProcessError(text)
    from tlstudio.core.training.run import TrainResult

    outcome: _Outcome = payload
    reporter.emit(Progress("load", 0, 0, "Loading the trained model…"))
    if outcome.history:  # the rebuilt DataLoaders leave out what the child could not decode
        from tlstudio.core.dataset.loaders import remember_undecodable

        remember_undecodable(outcome.history[-1].dropped)
    learn = rebuild_learner(spec, config, weights, frozen_idx=outcome.frozen_idx, weights_origin=outcome.weights_origin)
    return TrainResult(learn, spec, outcome.config, outcome.history, outcome.status, outcome.kept_epoch, outcome.message)
