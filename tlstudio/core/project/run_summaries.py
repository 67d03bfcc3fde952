"""What the Runs panel and `tlstudio runs` list: each run's settings, metrics and time.

Plain data from the run's files: its record, its config (the checkpoint's
while it trains, with the depth that runs), and its history (history.json
once it stopped, else the checkpoint's). Reading a checkpoint here reads
its header only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from tlstudio.core.project.checkpoint import read_batches, read_checkpoint
from tlstudio.core.project.config_json import config_from_dict, flat_settings
from tlstudio.core.project.history import BatchLosses, RunHistory, epoch_from_dict
from tlstudio.core.project.json_files import read_json
from tlstudio.core.project.layout import HISTORY_FILE
from tlstudio.core.project.runs import RunRecord, list_runs, read_config

# Metrics where lower is better; every other one is better higher.
LOWER_IS_BETTER = {"train_loss", "valid_loss", "error_rate"}


@dataclass(frozen=True)
class RunSummary:
    number: int
    state: str  # "completed" | "cancelled" | "failed" | "interrupted" | "training"
    created: str
    finished: str | None
    settings: dict  # every setting by dotted name, plus "start_from"
    epochs_done: int
    epochs_planned: int
    kept_epoch: int | None
    final: dict[str, float]  # the kept epoch's metrics: what the run's model scores
    best: dict[str, float]  # each metric's best value over the epochs
    training_s: float  # time of the completed epochs
    message: str = ""
    folder: Path = field(default=None, compare=False)

    def to_dict(self) -> dict:
        return {
            "number": self.number, "state": self.state, "created": self.created, "finished": self.finished,
            "settings": self.settings, "epochs_done": self.epochs_done, "epochs_planned": self.epochs_planned,
            "kept_epoch": self.kept_epoch, "final": self.final, "best": self.best,
            "training_s": self.training_s, "message": self.message, "folder": str(self.folder),
        }


def run_history(record: RunRecord) -> RunHistory:
    """The run's epochs and batch losses: history.json once it stopped, the
    checkpoint's while it trains or after it was killed, else none."""
    path = record.folder / HISTORY_FILE
    # A run resumed after it stopped has an older history.json than its checkpoint.
    checkpoint = read_checkpoint(record.folder, tensors=False) if record.unfinished else None
    if path.is_file() and (checkpoint is None or record.status != "training"):
        data = read_json(path, "run history", format_name="tlstudio-history", max_version=1)
        return RunHistory.from_dict(data, path)
    if checkpoint is None:
        return RunHistory([], BatchLosses())
    epochs = [epoch_from_dict(d, checkpoint.folder) for d in checkpoint.run["history"]]
    batches = read_batches(record.folder) or {}
    return RunHistory(epochs, BatchLosses(**{k: v.numpy() for k, v in batches.items()}) if batches else BatchLosses())


def _run_config(record: RunRecord):
    checkpoint = read_checkpoint(record.folder, tensors=False) if record.unfinished else None
    if checkpoint is not None:
        return config_from_dict(checkpoint.config, checkpoint.folder)
    return read_config(record.folder, as_run=True)


def _best(history: RunHistory) -> dict[str, float]:
    rows = [dict(e.metrics, train_loss=e.train_loss, valid_loss=e.valid_loss) for e in history.epochs]
    best = {}
    for name in rows[0] if rows else ():
        values = [r[name] for r in rows if name in r and math.isfinite(r[name])]
        if values:
            best[name] = min(values) if name in LOWER_IS_BETTER else max(values)
    return best


def _final(history: RunHistory, kept: int | None) -> dict[str, float]:
    for e in history.epochs:
        if e.global_epoch == kept:
            return dict(e.metrics, train_loss=e.train_loss, valid_loss=e.valid_loss)
    return {}


def summarize(record: RunRecord) -> RunSummary:
    config = _run_config(record)
    history = run_history(record)
    settings = flat_settings(config)
    settings["start_from"] = (record.start_from or {}).get("label")
    kept = record.kept_epoch if record.status != "training" else None
    if kept is None and history.epochs and record.status == "training":
        kept = history.epochs[-1].global_epoch  # interrupted: what a resume continues from
    return RunSummary(
        number=record.number, state=record.state, created=record.created, finished=record.finished,
        settings=settings, epochs_done=len(history.epochs),
        epochs_planned=config.freeze_epochs + config.epochs, kept_epoch=kept,
        final=_final(history, kept), best=_best(history),
        training_s=float(sum(e.elapsed_s for e in history.epochs)), message=record.message, folder=record.folder,
    )


def summarize_runs(root) -> list[RunSummary]:
    return [summarize(r) for r in list_runs(Path(root))]


def differing_settings(summaries: list[RunSummary]) -> list[str]:
    """The settings whose values are not the same in every run, in config order."""
    if not summaries:
        return []
    names = list(dict.fromkeys(n for s in summaries for n in s.settings))
    return [n for n in names if len({repr(s.settings.get(n)) for s in summaries}) > 1]


# Settings that say little in a table of runs (where it ran, how many loader processes).
QUIET_SETTINGS = {"device", "num_workers"}
# Metrics a table of runs shows, final and best, in this order, when the runs have them.
SHOWN_METRICS = ("accuracy", "f1_macro", "valid_loss")


def table_columns(summaries: list[RunSummary]) -> tuple[list[str], list[str]]:
    """What a table of these runs shows: the settings that differ (the quiet ones left out) and
    the metrics they have; `tlstudio runs` and the window's Runs panel alike."""
    differ = [n for n in differing_settings(summaries) if n not in QUIET_SETTINGS]
    metrics = [m for m in SHOWN_METRICS if any(m in s.final or m in s.best for s in summaries)]
    return differ, metrics
