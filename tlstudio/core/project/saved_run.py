"""A model trained outside any project, saved as the next run of one.

The run folder gets what a run into the project writes when it stops
(run.json, config.json, history.json, model.tlsmodel and, when the window
evaluated the model on the validation split, evaluation.json). It is built
under a hidden name in `runs/` and renamed into place whole, so a kill midway
leaves no half run for the project to list or offer to resume.
"""
from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import replace
from pathlib import Path

from tlstudio.core.project.config_json import config_to_dict
from tlstudio.core.project.dataset_ref import fingerprint
from tlstudio.core.project.evaluation import dataset_base, save_evaluation
from tlstudio.core.project.history import BatchLosses, RunHistory
from tlstudio.core.project.json_files import write_json
from tlstudio.core.project.layout import (
    CONFIG_FILE,
    EVALUATION_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    PROJECT_FILE,
    ProjectError,
    now,
    run_dir,
    run_number,
    runs_dir,
)
from tlstudio.core.project.runs import CONFIG_FORMAT, FORMAT_VERSION, RunRecord, save_run
from tlstudio.core.project.train_run import write_run_model

SAVING_PREFIX = ".saving-"


def save_trained_run(root, result, evaluation=None) -> RunRecord:
    """`result` (a TrainResult, its learner holding the kept weights) as the next run of the
    project at `root`; `evaluation`: its Interpretation on the validation split, or None."""
    root = Path(root)
    if not (root / PROJECT_FILE).is_file():
        raise ProjectError(f"{root}: not a project (no {PROJECT_FILE})")
    if result.kept_epoch is None:
        raise ProjectError("The model completed no epoch, so there is nothing to save")
    base = runs_dir(root)
    base.mkdir(parents=True, exist_ok=True)
    building = base / f"{SAVING_PREFIX}{uuid.uuid4().hex[:8]}"
    building.mkdir()
    try:
        config = config_to_dict(result.config)
        write_json(building / CONFIG_FILE, {"format": CONFIG_FORMAT, "format_version": FORMAT_VERSION,
                                            "config": config, "ran": config})
        batches = result.batches if result.batches is not None else BatchLosses()
        write_json(building / HISTORY_FILE, RunHistory(list(result.history), batches, result.kept_epoch).to_dict())
        write_run_model(building / MODEL_FILE, result, result.spec)
        if evaluation is not None and evaluation.split == "valid":
            save_evaluation(building / EVALUATION_FILE, evaluation, dataset_base(result.spec))
        stamp = now()
        record = RunRecord(building, _next_number(root), result.status, stamp, fingerprint(result.spec),
                           finished=stamp, kept_epoch=result.kept_epoch, message=result.message)
        return _move_into_place(root, save_run(record))
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _next_number(root: Path) -> int:
    numbers = [n for n in (run_number(p) for p in runs_dir(root).iterdir()) if n is not None]
    return max(numbers, default=0) + 1


def _move_into_place(root: Path, record: RunRecord) -> RunRecord:
    """Rename the finished folder to its run number; a number another process took meanwhile
    moves it to the next one (its run.json rewritten first)."""
    while True:
        target = run_dir(root, record.number)
        # rename() would replace an empty folder a new run has just claimed: look first.
        if not target.exists():
            try:
                os.rename(record.folder, target)
                return replace(record, folder=target)
            except OSError:
                if not target.exists():
                    raise
        record = save_run(replace(record, number=_next_number(root)))
