"""Child-process targets for `training_process.run_in_process` in tests.

A target runs in the spawned child instead of `training.run`, so it must be
importable there by name: this module sits on the tests' import path, which a
spawned child inherits.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from tlstudio.core.errors import UserFacingError
from tlstudio.core.events import BatchEnd, Cancelled, LrFindProgress, Message, StageStart

HOLD_LIMIT_S = 60.0


def _wait_for_cancel(reporter) -> None:
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not reporter.cancel_requested() and time.monotonic() < deadline:
        time.sleep(0.005)


class _Hold:
    """Passes events on; after the first event `when(event)` accepts it waits
    for a cancel, so the cancel lands there however fast the run is."""

    def __init__(self, reporter, when):
        self.reporter, self.when, self.held = reporter, when, False

    def emit(self, ev) -> None:
        self.reporter.emit(ev)
        if not self.held and self.when(ev):
            self.held = True
            _wait_for_cancel(self.reporter)

    def cancel_requested(self) -> bool:
        return self.reporter.cancel_requested()


class HoldLrFind:
    """An LR finder job (`training_process.LrFindJob`), held after step `at` until cancelled."""

    def __init__(self, job, at: int):
        self.job, self.at = job, at

    def __call__(self, spec, config, reporter):
        at = self.at
        return self.job(spec, config, _Hold(reporter, lambda ev: isinstance(ev, LrFindProgress) and ev.iteration == at))


class HoldInStage:
    """`training.run`, held after the first batch of `stage` until cancelled."""

    def __init__(self, stage: int):
        self.stage = stage

    def __call__(self, spec, config, reporter):
        from tlstudio.core.training import run as training

        stage = self.stage
        return training.run(spec, config, _Hold(reporter, lambda ev: isinstance(ev, BatchEnd) and ev.stage == stage))


def until_cancelled(spec, config, reporter):
    """The engine's side of the contract minus the training: returns no model."""
    reporter.emit(StageStart(1, "Head only", 1, 100, 1, 5, (1e-3,)))
    _wait_for_cancel(reporter)
    return None


def cancelled_before_a_model(spec, config, reporter):
    raise Cancelled("cancelled while loading")


def user_error(spec, config, reporter):
    raise UserFacingError(f"{spec.root}: no weights for {config.arch} on this machine")


def bug(spec, config, reporter):
    raise ValueError("a bug in the engine")


def dies(spec, config, reporter):
    os._exit(3)


class WritesPidThenWaits:
    """Writes the child's pid to `path`, then waits (for ever, unless cancelled)."""

    def __init__(self, path):
        self.path = str(path)

    def __call__(self, spec, config, reporter):
        Path(self.path).write_text(str(os.getpid()))
        while not reporter.cancel_requested():
            time.sleep(0.05)
        return None


def reports_pid(spec, config, reporter):
    """Says which process runs it, then waits to be cancelled; no model."""
    reporter.emit(Message("info", str(os.getpid())))
    _wait_for_cancel(reporter)
    return None


class SaysPid:
    """Runs `job` after saying which process runs it."""

    def __init__(self, job):
        self.job = job

    def __call__(self, spec, config, reporter):
        reporter.emit(Message("info", str(os.getpid())))
        return self.job(spec, config, reporter)
