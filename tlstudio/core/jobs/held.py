"""The models this process holds for later jobs, by id: in the engine process, the window's
trained model; in the CLI, whatever a command trained. A learner never leaves its process."""
from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass

from tlstudio.core.errors import UserFacingError

_models: dict[str, object] = {}  # in the order they came
_kinds: dict[str, str] = {}
_lock = threading.Lock()
_ids = itertools.count(1)


class ModelGone(UserFacingError):
    pass


@dataclass(frozen=True)
class ModelRef:
    """What the window keeps of a held model: its id and what pages show without asking."""

    id: str
    arch: str
    classes: tuple[str, ...]
    n_groups: int
    frozen_idx: int
    weights_origin: str = ""


LIMITS = {"trained": 1, "file": 4}  # the window's current run; model files opened for prediction


def hold(result, kind: str = "trained") -> str:
    """Keep `result` (a TrainResult, or a LoadedModel for kind "file") and return its id, unique
    across processes; the oldest of its kind beyond `LIMITS` goes."""
    with _lock:
        model_id = f"{os.getpid()}-{next(_ids)}"
        _models[model_id] = result
        _kinds[model_id] = kind
        same = [m for m in _models if _kinds[m] == kind]
        for old in same[:-LIMITS.get(kind, 1)]:
            del _models[old], _kinds[old]
    return model_id


def get(model_id: str):
    with _lock:
        try:
            return _models[model_id]
        except KeyError:
            raise ModelGone("The trained model is no longer in the engine (it restarted); "
                            "train again, or open a saved model file.") from None


def release() -> None:
    """Forget every model (tests; a new dataset)."""
    with _lock:
        _models.clear()
        _kinds.clear()


def items() -> list[tuple[str, object]]:
    with _lock:
        return list(_models.items())
