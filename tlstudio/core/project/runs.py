"""A project's runs: `runs/NNN/run.json`, their configs, and which one is training now.

A run's status is "training" from its start until it stops; a run still
"training" whose process is gone (killed, crashed, the machine went down)
is "interrupted" and can be resumed, like a cancelled or failed one. The
process training a run holds `runs/NNN/.training.pid`.
"""
from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from tlstudio.core.pid_lock import holder, pid_lock
from tlstudio.core.project.config_json import config_from_dict, config_to_dict
from tlstudio.core.project.json_files import read_json, write_json
from tlstudio.core.project.layout import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    LIVE_FILE,
    MODEL_FILE,
    RUN_FILE,
    ProjectError,
    run_dir,
    run_number,
    runs_dir,
)
from tlstudio.core.project.layout import now

FORMAT = "tlstudio-run"
FORMAT_VERSION = 1
CONFIG_FORMAT = "tlstudio-train-config"
STATUSES = ("training", "completed", "cancelled", "failed")
REMOVED_PREFIX = ".checkpoint-removed-"


@dataclass(frozen=True)
class RunRecord:
    folder: Path
    number: int
    status: str  # one of STATUSES, as last written
    created: str
    dataset_fingerprint: str
    finished: str | None = None
    start_from: dict | None = None  # the model it started from (starting_model.py), or None: pretrained weights
    kept_epoch: int | None = None
    message: str = ""
    sessions: int = 1  # times it was started or resumed
    extra: dict = field(default_factory=dict)  # fields of a newer TL Studio, kept as they were

    @property
    def live(self) -> bool:
        """A process is training this run now."""
        return _live_pid(self.folder) is not None

    @property
    def state(self) -> str:
        """The status, with a "training" run whose process is gone shown as "interrupted"."""
        if self.status == "training" and not self.live:
            return "interrupted"
        return self.status

    @property
    def unfinished(self) -> bool:
        """Not completed, and something to continue: a checkpoint, or no model at all (a run that
        stopped before its first epoch starts again). A model saved from the window after a
        cancelled run has neither a checkpoint nor anything to resume."""
        if self.status == "completed":
            return False
        return (self.folder / CHECKPOINT_DIR).is_dir() or not (self.folder / MODEL_FILE).is_file()

    def to_dict(self) -> dict:
        return {
            **self.extra,
            "format": FORMAT, "format_version": FORMAT_VERSION, "number": self.number, "status": self.status,
            "created": self.created, "finished": self.finished, "dataset_fingerprint": self.dataset_fingerprint,
            "start_from": self.start_from, "kept_epoch": self.kept_epoch, "message": self.message,
            "sessions": self.sessions,
        }


_KNOWN = {"format", "format_version", "number", "status", "created", "finished", "dataset_fingerprint",
          "start_from", "kept_epoch", "message", "sessions"}


def read_run(folder: Path) -> RunRecord:
    folder = Path(folder)
    path = folder / RUN_FILE
    data = read_json(path, "run record", format_name=FORMAT, max_version=FORMAT_VERSION)
    try:
        status = str(data["status"])
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        kept = data.get("kept_epoch")
        return RunRecord(
            folder=folder, number=int(data["number"]), status=status, created=str(data["created"]),
            dataset_fingerprint=str(data["dataset_fingerprint"]), finished=data.get("finished"),
            start_from=data.get("start_from"), kept_epoch=None if kept is None else int(kept),
            message=str(data.get("message", "")), sessions=int(data.get("sessions", 1)),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProjectError(f"{path}: the run record is damaged ({type(exc).__name__}: {exc})") from None


def save_run(record: RunRecord) -> RunRecord:
    write_json(record.folder / RUN_FILE, record.to_dict())
    return record


def update_run(record: RunRecord, **changes) -> RunRecord:
    return save_run(replace(record, **changes))


def read_config(folder: Path, *, as_run: bool = False):
    """The run's config as it was asked for; with `as_run`, as it ran once it
    stopped (an automatic unfreeze depth resolved to the one chosen)."""
    path = Path(folder) / CONFIG_FILE
    data = read_json(path, "run config", format_name=CONFIG_FORMAT, max_version=FORMAT_VERSION)
    key = "ran" if as_run and data.get("ran") is not None else "config"
    return config_from_dict(data.get(key), path)


def record_config_run(folder: Path, config) -> None:
    """Add the config as it ran to config.json, beside the one asked for."""
    path = Path(folder) / CONFIG_FILE
    data = read_json(path, "run config", format_name=CONFIG_FORMAT, max_version=FORMAT_VERSION)
    write_json(path, {**data, "ran": config_to_dict(config)})


def list_runs(root: Path) -> list[RunRecord]:
    """Every run of the project, oldest first. A folder without a readable
    run.json (a run killed while its folder was being made) is left out."""
    folder = runs_dir(root)
    if not folder.is_dir():
        return []
    runs = []
    for child in sorted(folder.iterdir()):
        if run_number(child) is not None and (child / RUN_FILE).is_file():
            runs.append(read_run(child))
    return sorted(runs, key=lambda r: r.number)


def get_run(root: Path, number: int) -> RunRecord:
    folder = run_dir(root, number)
    if not (folder / RUN_FILE).is_file():
        raise ProjectError(f"{root}: has no run {number}")
    return read_run(folder)


def last_unfinished(root: Path) -> RunRecord | None:
    return next((r for r in reversed(list_runs(root)) if r.unfinished), None)


def new_run(root: Path, config, *, dataset_fingerprint: str, start_from: dict | None = None) -> RunRecord:
    """A new run folder (the next number) with its config and record."""
    base = runs_dir(root)
    base.mkdir(parents=True, exist_ok=True)
    numbers = [n for n in (run_number(p) for p in base.iterdir()) if n is not None]
    number = max(numbers, default=0) + 1
    while True:
        folder = run_dir(root, number)
        try:
            folder.mkdir()
            break
        except FileExistsError:  # another process took this number first
            number += 1
    write_json(folder / CONFIG_FILE, {"format": CONFIG_FORMAT, "format_version": FORMAT_VERSION,
                                      "config": config_to_dict(config)})
    record = RunRecord(folder, number, "training", now(), dataset_fingerprint, start_from=start_from)
    return save_run(record)


def _live_pid(folder: Path) -> int | None:
    return holder(Path(folder) / LIVE_FILE)


def training_lock(record: RunRecord):
    """Mark the run as being trained by this process; refuse if another one is."""
    return pid_lock(record.folder / LIVE_FILE, lambda pid: ProjectError(
        f"{record.folder}: run {record.number} is being trained by process {pid}"))


def remove_checkpoint(folder: Path) -> None:
    """The run is complete: its checkpoint goes, renamed first so a kill midway leaves no half of one."""
    from tlstudio.core.project.checkpoint import checkpoint_dir

    checkpoint = checkpoint_dir(folder)
    if checkpoint.exists():
        os.replace(checkpoint, folder / f"{REMOVED_PREFIX}{uuid.uuid4().hex[:8]}")
    for doomed in folder.glob(f"{REMOVED_PREFIX}*"):  # this one, and any a kill left halfway
        shutil.rmtree(doomed, ignore_errors=True)
