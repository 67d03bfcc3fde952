"""The window's project work that needs torch, as jobs: train or resume a run into the
open project, bring a finished run back (its model held, its history and evaluation), and
save the held model, trained outside any project, as a new run of one.

`ProjectTrain` and `ProjectResume` are `TrainJob` targets (`target(spec, config, reporter)`),
so a run into a project is held and handed to the window (or the CLI) exactly as any other
run is, with where it was saved.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.jobs import held
from tlstudio.core.jobs.training import TrainedModel, trained_model
from tlstudio.core.project.dataset_ref import ScanSettings
from tlstudio.core.project.history import RunHistory


@dataclass(frozen=True)
class ProjectTrain:
    """A new run of the project at `root` (checkpointed every epoch); `start_from`: the
    `.tlsmodel` or run folder it starts from instead of the ImageNet weights."""

    root: str
    scan: ScanSettings = ScanSettings()
    start_from: str | None = None

    def __call__(self, spec, config, reporter):
        from tlstudio.core.project.starting_model import config_for, starting_model
        from tlstudio.core.project.train_run import train_in_project

        start = starting_model(self.start_from) if self.start_from else None
        return train_in_project(self.root, spec, config_for(config, start), reporter, scan=self.scan, start=start)


@dataclass(frozen=True)
class ProjectResume:
    """Continue run `number` (None: the last unfinished one) of the project at `root` from its
    last completed epoch, with the spec and config the run started with (the job's own are not
    used); `data`: the dataset's new location, when it moved."""

    root: str
    number: int | None = None
    data: str | None = None

    def __call__(self, spec, config, reporter):
        from tlstudio.core.project.train_run import resume_in_project

        return resume_in_project(self.root, reporter, data=self.data, number=self.number)


@dataclass(frozen=True)
class RestoredRun:
    """A run of a reopened project as the window draws it."""

    number: int
    trained: TrainedModel | None  # None: the run kept no model
    history: RunHistory
    evaluation: object | None  # Interpretation from evaluation.json, None without one


@dataclass(frozen=True)
class RestoreRunJob:
    """The run in `folder`: its `.tlsmodel` loaded into a learner for `spec` (the dataset it
    trained on) and held as the trained model; its history and evaluation read back."""

    folder: Path
    spec: DatasetSpec

    def __call__(self, reporter) -> RestoredRun:
        from tlstudio.core.project.evaluation import dataset_base, load_evaluation
        from tlstudio.core.project.layout import EVALUATION_FILE, MODEL_FILE
        from tlstudio.core.project.run_summaries import run_history
        from tlstudio.core.project.runs import read_config, read_run

        folder = Path(self.folder)
        record = read_run(folder)
        history = run_history(record)
        evaluation = None
        if (folder / EVALUATION_FILE).is_file():
            evaluation = load_evaluation(folder / EVALUATION_FILE, dataset_base(self.spec))
        trained = None
        if (folder / MODEL_FILE).is_file():
            config = read_config(folder, as_run=True)
            result = _restored_result(folder / MODEL_FILE, self.spec, config, record, history, reporter)
            trained = trained_model(result, held.hold(result, "trained"))
        return RestoredRun(record.number, trained, history, evaluation)


def _restored_result(path: Path, spec, config, record, history: RunHistory, reporter):
    from tlstudio.core.delivery.model_file import read_tlsmodel
    from tlstudio.core.project.layout import ProjectError
    from tlstudio.core.training.run import TrainResult, prepare_learner

    _, state = read_tlsmodel(path)
    learn = prepare_learner(spec, config.with_(pretrained=False), reporter)
    try:
        learn.model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ProjectError(f"{path}: its weights do not fit this run's {config.arch} model "
                           f"({str(exc).splitlines()[0][:200]})") from None
    kept = next((e for e in history.epochs if e.global_epoch == record.kept_epoch), None)
    if kept is not None and kept.stage == 2:  # as the run left it: unfrozen to its depth
        learn.freeze_to(-config.unfreeze_depth) if config.unfreeze_depth else learn.unfreeze()
    learn.weights_origin = f"run {record.number:03d} of {path.parent.parent.parent.name}"
    return TrainResult(learn, spec, config, list(history.epochs), record.status, record.kept_epoch, record.message,
                       batches=history.batches)


@dataclass(frozen=True)
class SavedRun:
    number: int
    folder: Path


@dataclass(frozen=True)
class SaveRunJob:
    """Held model `model_id` (trained in no project) as the next run of the project at `root`;
    `evaluation`: the window's Interpretation of it on the validation split, or None."""

    root: str
    model_id: str
    evaluation: object | None = None

    def __call__(self, reporter) -> SavedRun:
        from tlstudio.core.project.saved_run import save_trained_run

        record = save_trained_run(self.root, held.get(self.model_id), self.evaluation)
        return SavedRun(record.number, record.folder)
