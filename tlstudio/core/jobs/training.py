"""Train, and find a learning rate, as jobs; the trained learner stays in the process that ran them."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from tlstudio.core.config import TrainConfig
from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.events import EpochEnd, kept_metrics
from tlstudio.core.jobs import held
from tlstudio.core.jobs.held import ModelRef


@dataclass(frozen=True)
class TrainedModel:
    """A training run's result as plain data: the model itself stays held under `model.id`."""

    model: ModelRef
    spec: DatasetSpec
    config: TrainConfig  # as it ran: the depth an automatic choice picked
    history: list[EpochEnd] = field(default_factory=list)
    status: str = "completed"  # "completed" | "cancelled" | "failed"
    kept_epoch: int | None = None
    message: str = ""
    saved: object | None = None  # project.train_run.RunOutcome when the run went into a project

    @property
    def dropped(self) -> tuple[str, ...]:
        return self.history[-1].dropped if self.history else ()

    @property
    def final_metrics(self) -> dict[str, float]:
        """Metrics of the kept epoch (empty when no epoch completed)."""
        return kept_metrics(self.history, self.kept_epoch)


def model_ref(learn, model_id: str) -> ModelRef:
    from tlstudio.core.models.groups import n_layer_groups

    frozen = learn.opt.frozen_idx if learn.opt is not None else 0
    return ModelRef(model_id, str(getattr(learn.arch, "name", learn.arch)), tuple(str(c) for c in learn.dls.vocab),
                    n_layer_groups(learn), frozen, getattr(learn, "weights_origin", ""))


def trained_model(result, model_id: str, saved=None) -> TrainedModel:
    return TrainedModel(model_ref(result.learn, model_id), result.spec, result.config, list(result.history),
                        result.status, result.kept_epoch, result.message, saved)


def _train(spec, config, reporter):
    from tlstudio.core.training import run as training

    return training.run(spec, config, reporter)


@dataclass(frozen=True)
class StartFromModel:
    """A `TrainJob` target: `training.run` from your own model at `path` (a `.tlsmodel` or a
    project's run folder): its architecture, body and layer groups, a new head for `spec`."""

    path: str

    def __call__(self, spec, config, reporter):
        from tlstudio.core.project.starting_model import config_for, learner_from_model, starting_model
        from tlstudio.core.training import run as training

        start = starting_model(self.path)
        config = config_for(config, start)
        return training.run(spec, config, reporter, learn=learner_from_model(spec, config, start, reporter))


@dataclass(frozen=True)
class TrainJob:
    """`training.run`; `target(spec, config, reporter)` may replace it (picklable for the engine
    process). A target returns a `TrainResult`, a run into a project (its `result` and `outcome`,
    the outcome handed back as `saved`), or anything else, handed back as it is (None: nothing
    trained). `spec` and `config` may be None for a target that reads its own (a resume)."""

    spec: DatasetSpec | None
    config: TrainConfig | None
    target: Callable | None = None

    def __call__(self, reporter):
        from tlstudio.core.project.history import HistoryRecorder

        recorder = HistoryRecorder(reporter)  # the batch losses, should the run be saved into a project later
        result = (self.target or _train)(self.spec, self.config, recorder)
        saved = getattr(result, "outcome", None)
        result = getattr(result, "result", result)
        if result is None or not hasattr(result, "learn"):
            return result
        if getattr(result, "batches", None) is None:  # a run into a project kept its own
            result = dataclasses.replace(result, batches=recorder.batches())
        return trained_model(result, held.hold(result, "trained"), saved)  # one at a time: the last one goes


def copy_of_trained(model_id: str, spec, config):
    """A fresh learner for `spec` holding the held model's weights and freeze state, so a job
    may change it (the LR finder does) without touching the held one."""
    from tlstudio.core.training.run import prepare_learner

    trained = held.get(model_id)
    learn = prepare_learner(spec, config.with_(pretrained=False))
    learn.model.load_state_dict(trained.learn.model.state_dict())
    if trained.learn.opt is not None:
        learn.freeze_to(trained.learn.opt.frozen_idx)
    return learn


@dataclass(frozen=True)
class LrFindJob:
    """`lr_find.find_lr` for one stage; stage 2 starts from a copy of held model `model_id` when
    given. Otherwise the learner is the one the next run starts from: your own model at
    `start_from` (a `.tlsmodel` or a run folder, as `StartFromModel` builds it), or ImageNet's."""

    spec: DatasetSpec
    config: TrainConfig
    stage: int
    options: dict = field(default_factory=dict)
    model_id: str | None = None
    start_from: str | None = None

    def __call__(self, reporter):
        from tlstudio.core.training.lr_find import find_lr

        config, learn = self.config, None
        if self.model_id:
            learn = copy_of_trained(self.model_id, self.spec, config)
        elif self.start_from:
            from tlstudio.core.events import Message
            from tlstudio.core.project.starting_model import config_for, learner_from_model, starting_model

            start = starting_model(self.start_from)
            config = config_for(config, start)
            reporter.emit(Message("info", f"The finder starts from {start.label}"))
            learn = learner_from_model(self.spec, config, start, reporter)
        return find_lr(self.spec, config, unfreeze_depth=config.unfreeze_depth, stage=self.stage,
                       reporter=reporter, learn=learn, **self.options)


@dataclass(frozen=True)
class ModelDigestJob:
    """The sha256 of a held model's weights and its freeze state: shows a job left it alone."""

    model_id: str

    def __call__(self, reporter) -> tuple[str, int]:
        import hashlib

        learn = held.get(self.model_id).learn
        digest = hashlib.sha256()
        for name, tensor in learn.model.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest(), (learn.opt.frozen_idx if learn.opt is not None else -1)
