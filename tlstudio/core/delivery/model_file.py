"""TL Studio's own model file (`.tlsmodel`): a zip of `model.safetensors` and `model.json`.

Loading reads JSON and safetensors only, never a pickle, so a `.tlsmodel`
from anywhere is safe to open: the model is rebuilt from the architecture
registry (`models.build_learner`, no pretrained weights) and the tensors are
loaded into it with `strict=True`, so a file that does not fit is refused.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tlstudio.core.delivery.model_meta import FORMAT, ModelFileError

WEIGHTS_NAME = "model.safetensors"
META_NAME = "model.json"
MAX_META_BYTES = 4 << 20


def write_tlsmodel(learn, target: Path, meta: dict) -> None:
    from safetensors.torch import save

    from tlstudio.core.models.registry import ARCHS

    if meta.get("architecture") not in ARCHS:
        raise ModelFileError(f"{target.name}: a .tlsmodel rebuilds its network from a known architecture, "
                             f"and this model's ({meta.get('architecture')}) is not one")
    # safetensors refuses shared or strided storage; a state dict of copies has neither.
    state = {k: v.detach().cpu().contiguous().clone() for k, v in learn.model.state_dict().items()}
    with zipfile.ZipFile(target, "w") as zf:
        zf.writestr(META_NAME, json.dumps(meta, indent=2), compress_type=zipfile.ZIP_DEFLATED)
        # Weights hardly compress; stored, they load without inflating a second copy.
        zf.writestr(WEIGHTS_NAME, save(state), compress_type=zipfile.ZIP_STORED)


def read_tlsmodel(path: Path) -> tuple[dict, dict]:
    """(model.json, state dict) from a `.tlsmodel`, or a ModelFileError naming the problem."""
    from safetensors.torch import load

    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if not {WEIGHTS_NAME, META_NAME} <= names:
                raise ModelFileError(f"{path}: not a TL Studio model file (it lacks {WEIGHTS_NAME} or {META_NAME})")
            if zf.getinfo(META_NAME).file_size > MAX_META_BYTES:
                raise ModelFileError(f"{path}: its {META_NAME} is too large to be a model description")
            meta = json.loads(zf.read(META_NAME).decode("utf-8"))
            weights = zf.read(WEIGHTS_NAME)
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not a readable TL Studio model file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: {META_NAME} does not describe a TL Studio model")
    missing = [k for k in ("classes", "architecture", "input_size", "resize_method") if k not in meta]
    if missing:
        raise ModelFileError(f"{path}: {META_NAME} lacks {', '.join(missing)}")
    try:
        state = load(weights)
    except Exception as exc:  # safetensors raises its own error types for a damaged header
        raise ModelFileError(f"{path}: its weights are damaged ({type(exc).__name__}: {exc})") from exc
    return meta, state


def learner_from_tlsmodel(path: Path, device: str = "cpu"):
    """A fastai Learner rebuilt from the registry with the file's weights and
    valid-time pipeline; returns (learner, model.json)."""
    from fastai.losses import CrossEntropyLossFlat

    from tlstudio.core.delivery.inference_data import inference_dataloaders
    from tlstudio.core.errors import UserFacingError
    from tlstudio.core.models.learner import build_learner

    meta, state = read_tlsmodel(path)
    dls = inference_dataloaders(meta, device=device)
    try:
        learn = build_learner(dls, meta["architecture"], pretrained=False, n_out=len(meta["classes"]),
                              loss_func=CrossEntropyLossFlat())
        learn.model.load_state_dict(state, strict=True)
    except (UserFacingError, RuntimeError, KeyError) as exc:
        detail = str(exc).splitlines()[0][:200]
        raise ModelFileError(f"{path}: its weights do not fit a {meta['architecture']} model ({detail})") from exc
    learn.model.to(device).eval()
    return learn, meta
