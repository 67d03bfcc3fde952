"""Where everything lives in a project folder, and the error a project raises.

    NAME.tlsproject/
      project.json            format, the dataset (location, fingerprint, scan settings), every page's choices
      runs/001/
        run.json              status, start and end, where the run started from
        config.json           its TrainConfig
        history.json          epoch table and per-batch losses (once the run stops)
        evaluation.json       results on the validation split (once it completes)
        model.tlsmodel        the weights it kept
        checkpoint/           while it trains: checkpoint.safetensors (and best-NNN.safetensors)

This module imports nothing heavy: the window lists projects before torch loads.
"""
from __future__ import annotations

from datetime import datetime, timezone

from pathlib import Path

from tlstudio.core.errors import UserFacingError

SUFFIX = ".tlsproject"
PROJECT_FILE = "project.json"
RUNS = "runs"
RUN_FILE = "run.json"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
EVALUATION_FILE = "evaluation.json"
MODEL_FILE = "model.tlsmodel"
CHECKPOINT_DIR = "checkpoint"
LIVE_FILE = ".training.pid"  # held by the process training the run


class ProjectError(UserFacingError):
    """A project folder, or a file in it, that cannot be used as it is."""


def project_dir(path) -> Path:
    """The project folder for what the user typed: `demo` means `demo.tlsproject`."""
    path = Path(path).expanduser()
    return path if path.name.endswith(SUFFIX) else path.with_name(path.name + SUFFIX)


def runs_dir(root: Path) -> Path:
    return Path(root) / RUNS


def run_dir(root: Path, number: int) -> Path:
    return runs_dir(root) / f"{number:03d}"


def run_number(folder: Path) -> int | None:
    """The number of a run folder (`runs/007` -> 7), or None for anything else."""
    name = Path(folder).name
    return int(name) if name.isdigit() and len(name) >= 3 else None


def now() -> str:
    """A timestamp for project files: UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
