"""Engine-process targets and jobs for tests.

A target runs in the engine process instead of `training.run` (`TrainJob(spec,
config, target)`), and a job wrapper runs there around a real job, so both must
be importable there by name: this module sits on the tests' import path, which a
spawned process inherits.
"""
from __future__ import annotations

import os
import sys
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
    """An LR finder job (`jobs.training.LrFindJob`), held after step `at` until cancelled."""

    def __init__(self, job, at: int):
        self.job, self.at = job, at

    def __call__(self, reporter):
        at = self.at
        return self.job(_Hold(reporter, lambda ev: isinstance(ev, LrFindProgress) and ev.iteration == at))


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

    def __call__(self, reporter):
        reporter.emit(Message("info", str(os.getpid())))
        return self.job(reporter)


class ValidateHeld:
    """Validates the held model `model_id` where it lives and exports it to `pkl`: plain facts back."""

    def __init__(self, model_id: str, pkl: str):
        self.model_id, self.pkl = model_id, pkl

    def __call__(self, reporter):
        from tlstudio.core.jobs import held

        learn = held.get(self.model_id).learn
        with learn.no_bar(), learn.no_logging():
            valid_loss, accuracy, *_ = learn.validate()
        frozen_idx = learn.opt.frozen_idx  # before exporting, which gives the learner a fresh optimizer
        learn.export(self.pkl)
        learn.freeze_to(frozen_idx)  # as it was: later tests use the held model
        return {
            "valid_loss": float(valid_loss), "accuracy": float(accuracy),
            "valid_paths": [str(p) for p in learn.dls.valid.items["path"]], "n_valid": len(learn.dls.valid_ds),
            "frozen_idx": frozen_idx,
        }


class HoldsSomething:
    """Holds a stand-in model in the engine and returns its id."""

    def __call__(self, reporter):
        from types import SimpleNamespace

        from tlstudio.core.jobs import held

        return held.hold(SimpleNamespace(learn=None), "file")


class AdoptWeights:
    """Holds, in the engine, a learner rebuilt for `spec` around the weights in `weights`
    (a state-dict file), frozen as trained: the tests' one trained model, without training
    it again there. Returns the `TrainedModel` the window would have got from `TrainJob`."""

    def __init__(self, spec, config, weights: str, frozen_idx: int, history, status, kept_epoch, message):
        self.spec, self.config, self.weights, self.frozen_idx = spec, config, weights, frozen_idx
        self.history, self.status, self.kept_epoch, self.message = history, status, kept_epoch, message

    def __call__(self, reporter):
        from types import SimpleNamespace

        import torch

        from tlstudio.core.jobs import held
        from tlstudio.core.jobs.training import trained_model
        from tlstudio.core.training.run import prepare_learner

        learn = prepare_learner(self.spec, self.config.with_(pretrained=False))
        learn.model.load_state_dict(torch.load(self.weights, map_location="cpu", weights_only=True))
        learn.freeze_to(self.frozen_idx)
        result = SimpleNamespace(learn=learn, spec=self.spec, config=self.config, history=self.history,
                                 status=self.status, kept_epoch=self.kept_epoch, message=self.message)
        return trained_model(result, held.hold(result, "trained"))


class IsHeld:
    """Whether the engine still holds `model_id` (a later run may have replaced it)."""

    def __init__(self, model_id: str):
        self.model_id = model_id

    def __call__(self, reporter) -> bool:
        from tlstudio.core.jobs import held

        return any(m == self.model_id for m, _ in held.items())


class BodyCarried:
    """How the held model `model_id`'s body compares with the body of the `.tlsmodel` at
    `path`, and with the ImageNet weights a fresh learner for `spec` gets; and its head's size."""

    def __init__(self, model_id: str, path: str, spec, config):
        self.model_id, self.path, self.spec, self.config = model_id, path, spec, config

    def __call__(self, reporter) -> dict:
        import torch

        from tlstudio.core.delivery.model_file import read_tlsmodel
        from tlstudio.core.jobs import held
        from tlstudio.core.training.run import prepare_learner

        learn = held.get(self.model_id).learn
        ours = {k: v.detach().cpu() for k, v in learn.model.state_dict().items()}
        _, theirs = read_tlsmodel(Path(self.path))
        body = {k: v for k, v in theirs.items() if k.startswith("0.")}
        imagenet = prepare_learner(self.spec, self.config).model.state_dict()
        return {
            "keys": len(body),
            "same_keys": set(body) == {k for k in ours if k.startswith("0.")},
            "unequal": [k for k, v in body.items() if not torch.equal(ours[k], v)],
            "differs_from_imagenet": [k for k, v in body.items() if not torch.equal(imagenet[k].cpu(), v)],
            "head_out": learn.model[1][-1].out_features,
            "vocab": list(learn.dls.vocab),
        }


class Environ:
    """Makes the engine's environment `values` exactly: the session's engine outlives the test
    that started it, and each test has its own settings, hub cache and data folders."""

    def __init__(self, values: dict[str, str]):
        self.values = dict(values)

    def __call__(self, reporter) -> None:
        for name in set(os.environ) - set(self.values):
            del os.environ[name]
        os.environ.update(self.values)


def engine_follows_this_test() -> None:
    """The running engine (if any) takes this process's environment as it is now."""
    engine = sys.modules.get("tlstudio.qt.engine")  # a test that never touched the window has none
    if engine is not None and engine.host().alive():  # host() only makes the object; it starts nothing
        engine.host().run(Environ(dict(os.environ)))
