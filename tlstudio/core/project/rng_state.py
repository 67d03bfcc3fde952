"""Every random number generator a training epoch draws from, captured and restored.

Python's and numpy's global generators (fastai's item transforms), torch's
(augmentation on the batch, dropout) on the CPU and every CUDA device, and
each fastai DataLoader's own `random.Random`, which shuffles the next epoch.
States are JSON (Python, numpy) or uint8 tensors (torch), never pickles.
"""
from __future__ import annotations

import random

import numpy as np
import torch

from tlstudio.core.project.layout import ProjectError


def _py_state(state) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _py_restore(data) -> tuple:
    version, internal, gauss = data
    return (int(version), tuple(int(v) for v in internal), gauss)


def capture(loaders: dict) -> tuple[dict, dict]:
    """(JSON part, tensors) of the global generators and of `loaders`' (name -> fastai DataLoader)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    data = {
        "python": _py_state(random.getstate()),
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "loaders": {k: _py_state(dl.rng.getstate()) for k, dl in loaders.items()},
    }
    tensors = {"rng/torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = state
    return data, tensors


def restore(data: dict, tensors: dict, loaders: dict, source) -> None:
    try:
        random.setstate(_py_restore(data["python"]))
        name, keys, pos, has_gauss, cached = data["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
        for key, dl in loaders.items():
            if key in data["loaders"]:
                dl.rng.setstate(_py_restore(data["loaders"][key]))
        torch.set_rng_state(tensors["rng/torch"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ProjectError(f"{source}: its random-number states are damaged ({type(exc).__name__}: {exc})") from None
    cuda = sorted((k for k in tensors if k.startswith("rng/cuda/")), key=lambda k: int(k.rsplit("/", 1)[1]))
    if cuda and torch.cuda.is_available():
        states = [tensors[k] for k in cuda][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)
