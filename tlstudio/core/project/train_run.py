"""Train a run into a project, or resume one: the engine functions the CLI and the window call.

Both take plain data (folders, a config, a reporter) and return a
`ProjectTraining`: the plain outcome, and the TrainResult whose learner holds
the kept weights (for an export in the same process). As it trains, the run
writes its checkpoint after every completed epoch; when it stops it writes
its history, its model (`model.tlsmodel`, the kept epoch) and, once
complete, its evaluation on the validation split, and removes the checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from tlstudio.core.atomic_files import atomic_write
from tlstudio.core.events import Cancelled, EarlierEpochs, Message, NullReporter
from tlstudio.core.project.checkpoint import read_checkpoint
from tlstudio.core.project.config_json import config_from_dict
from tlstudio.core.project.dataset_ref import DatasetMismatchError, ScanSettings, dataset_ref, fingerprint
from tlstudio.core.project.evaluation import dataset_base, save_evaluation
from tlstudio.core.project.history import BatchLosses, HistoryRecorder, RunHistory, epoch_from_dict
from tlstudio.core.project.json_files import write_json
from tlstudio.core.project.layout import EVALUATION_FILE, HISTORY_FILE, MODEL_FILE, PROJECT_FILE, ProjectError, now
from tlstudio.core.project.project_file import (
    Project,
    create_project,
    open_dataset,
    open_project,
    relocate_dataset,
    save_project,
)
from tlstudio.core.project.runs import (
    RunRecord,
    get_run,
    last_unfinished,
    new_run,
    read_config,
    record_config_run,
    remove_checkpoint,
    training_lock,
    update_run,
)
from tlstudio.core.project.starting_model import StartingModel, learner_from_model, starting_model


@dataclass(frozen=True)
class RunOutcome:
    project: Path
    run: int
    folder: Path
    status: str  # "completed" | "cancelled" | "failed"
    kept_epoch: int | None
    message: str
    model_file: Path | None  # None when no epoch completed
    evaluation_file: Path | None  # None unless the run completed and its evaluation ran


@dataclass
class ProjectTraining:
    outcome: RunOutcome
    result: object  # training.TrainResult


def project_for(root, spec, scan: ScanSettings, reporter=None) -> Project:
    """The project at `root` for the dataset `spec`, created when `root` is new.
    An existing project takes `spec` when it is its dataset (moved or not) or
    its dataset, changed, at the same place; another dataset is refused."""
    reporter = reporter or NullReporter()
    root = Path(root)
    if not (root / PROJECT_FILE).exists():
        return create_project(root, spec, scan)
    project = open_project(root)
    here = dataset_ref(spec, root, scan)
    if here.fingerprint == project.dataset.fingerprint:
        return project if here == project.dataset else save_project(replace(project, dataset=here))
    if here.location != project.dataset.location:
        raise DatasetMismatchError(f"{spec.root}: not the dataset of project {root} ({project.dataset.location})")
    reporter.emit(Message("warning", f"{spec.root}: the dataset changed since the project last saw it; "
                                     "this run trains on it as it is now"))
    return save_project(replace(project, dataset=here))


def start_learner(spec, config, start: StartingModel | None, reporter):
    from tlstudio.core.training import run as training

    if start is None:
        return training.prepare_learner(spec, config, reporter)
    return learner_from_model(spec, config, start, reporter)


def train_in_project(root, spec, config, reporter=None, *, scan: ScanSettings = ScanSettings(),
                     start: StartingModel | None = None, learn=None) -> ProjectTraining:
    """A new run of `config` on `spec` in the project at `root` (created if
    new). `learn`: a learner already prepared for it (after an LR search)."""
    reporter = reporter or NullReporter()
    project = project_for(root, spec, scan, reporter)
    record = new_run(project.root, config, dataset_fingerprint=project.dataset.fingerprint,
                     start_from=start.to_dict() if start else None)
    reporter.emit(Message("info", f"Run {record.number:03d} of project {project.root}"))
    with training_lock(record):
        return _train(project, record, spec, config, reporter, start, learn, resume=None)


def resume_in_project(root, reporter=None, *, data=None, number: int | None = None) -> ProjectTraining:
    """Continue run `number` (default: the last unfinished one) from its last
    completed epoch. `data`: the dataset's new location when it moved."""
    reporter = reporter or NullReporter()
    project = open_project(Path(root))
    if data is not None:
        project, spec = relocate_dataset(project, data, reporter)
    else:
        project, spec = open_dataset(project, reporter)
    record = get_run(project.root, number) if number is not None else last_unfinished(project.root)
    if record is None:
        raise ProjectError(f"{project.root}: every run is complete; there is nothing to resume")
    if not record.unfinished:
        raise ProjectError(f"{record.folder}: run {record.number} is complete; there is nothing to resume")
    if record.dataset_fingerprint != fingerprint(spec):
        raise DatasetMismatchError(f"{spec.root}: changed since run {record.number} started, "
                                   "so the run cannot continue on the same data")
    with training_lock(record):
        checkpoint = read_checkpoint(record.folder)
        start = starting_model(record.start_from["path"]) if record.start_from else None
        record = update_run(record, status="training", sessions=record.sessions + 1, finished=None)
        if checkpoint is None:
            reporter.emit(Message("info", f"Run {record.number:03d} completed no epoch before it stopped; "
                                          "starting it again"))
            return _train(project, record, spec, read_config(record.folder), reporter, start, None, resume=None)
        config = config_from_dict(checkpoint.config, checkpoint.folder)
        reporter.emit(Message("info", f"Resuming run {record.number:03d} after epoch {checkpoint.global_epoch + 1} "
                                      f"(stage {checkpoint.stage} epoch {checkpoint.epoch + 1})"))
        return _train(project, record, spec, config, reporter, start, None, resume=checkpoint)


def _train(project, record: RunRecord, spec, config, reporter, start, learn, resume) -> ProjectTraining:
    from tlstudio.core.training import run as training
    from tlstudio.core.project.checkpointing import CheckpointingHooks

    batches = None
    if resume is not None:
        batches = BatchLosses(**{k: v.numpy() for k, v in resume.batches().items()})
        earlier = [epoch_from_dict(d, resume.folder) for d in resume.run["history"]]
        reporter.emit(EarlierEpochs(RunHistory(earlier, batches, None)))
    recorder = HistoryRecorder(reporter, batches)
    try:
        if learn is None:
            # A resumed run's weights all come from its checkpoint.
            learn = (training.prepare_learner(spec, config.with_(pretrained=False), recorder) if resume
                     else start_learner(spec, config, start, recorder))
        hooks = CheckpointingHooks(record.folder, learn, config, recorder, resume=resume)
        result = training.run(spec, config, recorder, learn=learn, hooks=hooks)
    except Exception as exc:
        update_run(record, status="failed", finished=now(), message=f"{type(exc).__name__}: {exc}")
        raise
    return ProjectTraining(_finish(project, record, spec, result, recorder, reporter), result)


def _finish(project, record: RunRecord, spec, result, recorder: HistoryRecorder, reporter) -> RunOutcome:
    folder = record.folder
    history = RunHistory(result.history, recorder.batches(), result.kept_epoch)
    write_json(folder / HISTORY_FILE, history.to_dict())
    model_file = evaluation_file = None
    if result.kept_epoch is not None:
        model_file = _write_model(folder / MODEL_FILE, result, spec)
    message = result.message
    if result.status == "completed":
        evaluation_file = _evaluate(folder / EVALUATION_FILE, result, spec, reporter)
        if evaluation_file is None:
            message += "; evaluation cancelled"
    record_config_run(folder, result.config)
    update_run(record, status=result.status, finished=now(), kept_epoch=result.kept_epoch, message=message)
    if result.status == "completed":
        remove_checkpoint(folder)
    return RunOutcome(project.root, record.number, folder, result.status, result.kept_epoch, message,
                      model_file, evaluation_file)


def _write_model(path: Path, result, spec) -> Path:
    from tlstudio.core.delivery.model_file import write_tlsmodel
    from tlstudio.core.delivery.model_meta import model_metadata

    meta = model_metadata(result.learn, spec=spec, config=result.config, metrics=result.final_metrics)
    atomic_write(path, lambda tmp: write_tlsmodel(result.learn, tmp, meta))
    return path


def _evaluate(path: Path, result, spec, reporter) -> Path | None:
    from tlstudio.core.delivery.interpret import interpret

    try:
        interp = interpret(result.learn, spec, "valid", reporter)
    except Cancelled:
        return None
    save_evaluation(path, interp, dataset_base(spec))
    return path
