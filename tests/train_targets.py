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


class _Hold:
    """Passes events on; after `stage`'s first batch it waits for a cancel, so
    the cancel lands mid-stage however fast the run is."""

    def __init__(self, reporter, stage: int):
        self.reporter, self.stage, self.held = reporter, stage, False

    def emit(self, ev) -> None:
        self.reporter.emit(ev)
        if isinstance(ev, BatchEnd) and ev.stage == self.stage and not self.held:
            self.held = True
            deadline = time.monotonic() + HOLD_LIMIT_S
            while not self.reporter.cancel_requested() and time.monotonic() < deadline:
                time.sleep(0.005)

    def cancel_requested(self) -> bool:
        return self.reporter.cancel_requested()


class _HoldAtStep:
    """Passes events on; after LR finder step `at` it waits for a cancel."""

    def __init__(self, reporter, at: int):
        self.reporter, self.at = reporter, at

    def emit(self, ev) -> None:
        self.reporter.emit(ev)
        if isinstance(ev, LrFindProgress) and ev.iteration == self.at:
            deadline = time.monotonic() + HOLD_LIMIT_S
            while not self.reporter.cancel_requested() and time.monotonic() < deadline:
                time.sleep(0.005)

    def cancel_requested(self) -> bool:
        return self.reporter.cancel_requested()


class HoldLrFind:
    """An LR finder job (`training_process.LrFindJob`), held after step `at` until cancelled."""

    def __init__(self, job, at: int):
        self.job, self.at = job, at

    def __call__(self, spec, config, reporter):
        return self.job(spec, config, _HoldAtStep(reporter, self.at))


class HoldInStage:
    """`training.run`, held after the first batch of `stage` until cancelled."""

    def __init__(self, stage: int):
        self.stage = stage

    def __call__(self, spec, config, reporter):
        from tlstudio.core import training

        return training.run(spec, config, _Hold(reporter, self.stage))


def until_cancelled(spec, config, reporter):
    """The engine's side of the contract minus the training: returns no model."""
    reporter.emit(StageStart(1, "Head only", 1, 100, 1, 5, (1e-3,)))
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not reporter.cancel_requested() and time.monotonic() < deadline:
        time.sleep(0.01)
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
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not reporter.cancel_requested() and time.monotonic() < deadline:
        time.sleep(0.01)
    return None


class SaysPid:
    """Runs `job` after saying which process runs it."""

    def __init__(self, job):
        self.job = job

    def __call__(self, spec, config, reporter):
        reporter.emit(Message("info", str(os.getpid())))
        return self.job(spec, config, reporter)
