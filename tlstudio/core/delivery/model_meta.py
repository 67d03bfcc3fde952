"""What every model file says about itself: formats, errors, the description (model.json / sidecar).

The writers, the loader and the verifier all import from here; this imports
none of them (only standalone_predict, which imports nothing of the app).
"""
from __future__ import annotations

import platform
from datetime import datetime, timezone
from pathlib import Path

from tlstudio import __version__

# predict.py (standalone_predict) must run without the app, so these two live there and the app uses them.
from tlstudio.core.delivery.standalone_predict import sidecar_path  # noqa: F401
from tlstudio.core.dataset.fingerprint import dataset_fingerprint  # noqa: F401  (callers import it from here)
from tlstudio.core.errors import UserFacingError
from tlstudio.core.hashing import sha256_file  # noqa: F401

FORMAT = "tlstudio-model"
FORMAT_VERSION = 2
# Suffix -> format name, in the order the Export page lists them.
FORMATS = {".tlsmodel": "tlsmodel", ".pkl": "pkl", ".onnx": "onnx", ".pt": "torchscript"}
FORMAT_LABELS = {
    "tlsmodel": "TL Studio model (.tlsmodel)",
    "pkl": "fastai learner (.pkl)",
    "onnx": "ONNX (.onnx)",
    "torchscript": "TorchScript (.pt)",
}


class ModelFileError(UserFacingError):
    """A model file that cannot be used: missing, not a model, or changed since export."""


class UntrustedModelError(ModelFileError):
    """A pickle this app did not export on this machine: loading it could run any code, so the user must say they trust it."""


def format_of(path) -> str:
    path = Path(path)
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ModelFileError(
            f"{path}: not a model file this app knows (use one of {', '.join(FORMATS)})"
        ) from None


def normalization(learn) -> dict | None:
    import numpy as np
    from fastai.vision.all import Normalize

    for tfm in learn.dls.after_batch.fs:
        if isinstance(tfm, Normalize):
            return {"mean": np.asarray(tfm.mean.cpu()).ravel().tolist(), "std": np.asarray(tfm.std.cpu()).ravel().tolist()}
    return None


def versions() -> dict:
    import fastai
    import torch
    import torchvision

    return {
        "tlstudio": __version__,
        "fastai": fastai.__version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
    }


def model_metadata(learn, *, spec, config, metrics=None) -> dict:
    """The description a model file carries: enough to rebuild the model from
    the registry and to feed it images exactly as training did."""
    from tlstudio.core.models.groups import layer_groups

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "classes": [str(c) for c in learn.dls.vocab],
        "architecture": config.arch,
        "input_size": config.augment.size,
        "resize_method": config.augment.resize_method,
        "normalization": normalization(learn),
        "layer_groups": [g.name for g in layer_groups(learn)],
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        "dataset": {
            "fingerprint": dataset_fingerprint(spec),
            "root": str(spec.root),
            "layout": spec.layout,
            "n_items": len(spec.items),
            "split_counts": spec.split_counts(),
            "seed": spec.seed,
            "valid_pct": config.valid_pct,
        },
        "versions": versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def describe(meta: dict) -> dict:
    """The part of a model's description a new file of another format keeps:
    everything except what belongs to one file (its digest, its verification)."""
    return {k: v for k, v in meta.items() if k not in ("sha256", "verification", "file_format", "output", "input")}
