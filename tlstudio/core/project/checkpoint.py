"""A run's checkpoint: one safetensors file written after every completed epoch.

`checkpoint/checkpoint.safetensors` holds the tensors (the model's weights
`model/...`, the optimizer's moments `opt/...`, torch's random states
`rng/...`, the per-batch losses `batches/...`) and, in the safetensors
header's metadata, a JSON description: stage and epoch, whether that stage
is finished, the resolved config, the RunLog's state (history, iteration
count, early stopping, best epoch), the optimizer's step counts and
hyper-parameters, and the Python, numpy and DataLoader random states. One
file replaced atomically, so a kill leaves either the previous checkpoint or
the new one. The weights of the best epoch, when that is not the last one,
live in `best-NNN.safetensors`, written once when the best changes and
before the checkpoint that names it. Reading uses safetensors and JSON only,
never a pickle.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tlstudio.core.atomic_files import atomic_write
from tlstudio.core.project.layout import CHECKPOINT_DIR, ProjectError

CHECKPOINT_FILE = "checkpoint.safetensors"
FORMAT = "tlstudio-checkpoint"
FORMAT_VERSION = 1
MODEL = "model/"
BATCHES = "batches/"


def best_name(epoch: int) -> str:
    return f"best-{epoch:03d}.safetensors"


@dataclass
class Checkpoint:
    stage: int  # 1: head, body frozen; 2: unfrozen
    epoch: int  # last completed epoch of `stage`, 0-based
    stage_done: bool  # the stage ran to its end, or stopped early
    on_features: bool  # stage 1 trained on cached body features
    config: dict  # TrainConfig as JSON; in stage 2 with the depth that runs
    run: dict  # RunLog: history, iteration, stopped_early, dropped, best
    rng: dict
    optimizer: dict
    tensors: dict = field(default_factory=dict, repr=False)
    folder: Path | None = None

    @property
    def global_epoch(self) -> int:
        return int(self.run["history"][-1]["global_epoch"])

    def meta(self) -> dict:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "stage": self.stage, "epoch": self.epoch,
            "stage_done": self.stage_done, "on_features": self.on_features, "config": self.config,
            "run": self.run, "rng": self.rng, "optimizer": self.optimizer,
        }

    def model_state(self) -> dict:
        return {k[len(MODEL):]: v for k, v in self.tensors.items() if k.startswith(MODEL)}

    def best_state(self) -> dict | None:
        """The best epoch's weights; None when the best epoch is the last one (then they are `model_state`)."""
        name = self.run["best"].get("file")
        if not name:
            return None
        return _load_tensors(self.folder / name)

    def batches(self) -> dict:
        return {k[len(BATCHES):]: v for k, v in self.tensors.items() if k.startswith(BATCHES)}


def checkpoint_dir(run_folder: Path) -> Path:
    return Path(run_folder) / CHECKPOINT_DIR


def _save(path: Path, tensors: dict, metadata: dict | None = None) -> None:
    from safetensors.torch import save_file

    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def write_best(folder: Path, epoch: int, state: dict) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    name = best_name(epoch)
    _save(folder / name, {k: v.detach().cpu().contiguous().clone() for k, v in state.items()})
    return name


def write_checkpoint(folder: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint in `folder`, then drop best-weight files it no longer names."""
    folder.mkdir(parents=True, exist_ok=True)
    _save(folder / CHECKPOINT_FILE, checkpoint.tensors, {"checkpoint": json.dumps(checkpoint.meta())})
    keep = checkpoint.run["best"].get("file")
    for old in folder.glob("best-*.safetensors"):
        if old.name != keep:
            old.unlink(missing_ok=True)


def _load_tensors(path: Path) -> dict:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise ProjectError(f"{path}: missing (the checkpoint names it)") from None
    except Exception as exc:  # safetensors raises its own types for a damaged file
        raise ProjectError(f"{path}: damaged ({type(exc).__name__}: {exc})") from None


def read_meta(path: Path) -> dict:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["checkpoint"])
    except FileNotFoundError:
        raise
    except Exception as exc:  # safetensors' own errors, a missing key, bad JSON
        raise ProjectError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ProjectError(f"{path}: not a TL Studio checkpoint")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ProjectError(f"{path}: written by a newer TL Studio; update TL Studio to resume it")
    return meta


def read_checkpoint(run_folder: Path, *, tensors: bool = True) -> Checkpoint | None:
    """The run's checkpoint, or None when it has none (no epoch completed yet).
    With `tensors=False` only its description is read (fast: the header)."""
    folder = checkpoint_dir(run_folder)
    path = folder / CHECKPOINT_FILE
    try:
        meta = read_meta(path)
    except FileNotFoundError:
        return None
    try:
        checkpoint = Checkpoint(
            stage=int(meta["stage"]), epoch=int(meta["epoch"]), stage_done=bool(meta["stage_done"]),
            on_features=bool(meta["on_features"]), config=meta["config"], run=meta["run"], rng=meta["rng"],
            optimizer=meta["optimizer"], folder=folder,
        )
        checkpoint.run["history"][-1]["global_epoch"]
        checkpoint.run["best"]
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ProjectError(f"{path}: the checkpoint's description is incomplete ({type(exc).__name__}: {exc})") from None
    if tensors:
        checkpoint.tensors = _load_tensors(path)
    return checkpoint


def read_batches(run_folder: Path) -> dict | None:
    """Only the per-batch losses of a checkpoint (for curves of an unfinished run)."""
    from safetensors import safe_open

    path = checkpoint_dir(run_folder) / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k[len(BATCHES):]: f.get_tensor(k) for k in f.keys() if k.startswith(BATCHES)}
    except Exception as exc:  # safetensors' own errors
        raise ProjectError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
