"""Export a trained learner, prove the file predicts like the model in memory, load it back, predict.

The model file is fastai's `learn.export` pickle; next to it a JSON sidecar
(`<name>.json`) records what a user needs later to trust and use
it: classes, architecture, input pipeline, metrics, a dataset fingerprint,
library versions and the sha256 of the model file. Both are written to a temp
file in the target folder and moved into place with `os.replace`, so a crash
never leaves a half-written model under the user's chosen name.

Loading a pickle can run code: `load_model` unpickles a file only when this
app exported that very file on this machine (its sha256 is in the local
record of core/trusted_files.py) or the caller passes `trust=True`. The
sidecar never grants trust: whoever sends a pickle can forge it too.
"""
from __future__ import annotations

import hashlib
import json
import platform
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tlstudio import __version__
from tlstudio.core.errors import UserFacingError
from tlstudio.core.events import NullReporter, Progress
from tlstudio.core.trusted_files import exported_here, remember_export

FORMAT = "tlstudio-model"
FORMAT_VERSION = 1
VERIFY_MAX_ITEMS = 64
PROB_TOLERANCE = 1e-5


class ModelFileError(UserFacingError):
    """A model file that cannot be used: missing, not a model, or changed since export."""


class UntrustedModelError(ModelFileError):
    """A pickle this app did not export on this machine: loading it could run any code, so the user must say they trust it."""


@dataclass(frozen=True)
class ExportReport:
    path: Path
    sidecar: Path
    verified: bool  # reloaded model agrees with the in-memory one (False also when not checked)
    n_checked: int  # images compared
    max_prob_diff: float  # largest absolute probability difference seen
    mismatches: int  # images whose top-1 class differed
    message: str  # one line for the user


@dataclass
class LoadedModel:
    learn: object  # fastai Learner, on the CPU unless asked otherwise
    path: Path
    metadata: dict | None  # the sidecar, when there is one

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.learn.dls.vocab]


@dataclass(frozen=True)
class Prediction:
    path: Path
    label: str | None  # None when the image could not be read
    prob: float | None
    top_k: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None


# ---------------------------------------------------------------- export


def export_model(learn, path, *, spec, config, metrics=None, verify=True, reporter=None) -> ExportReport:
    """Write `learn` to `path` (.pkl) and its sidecar, then reload the file and
    compare predictions on up to 64 validation images with the model in memory."""
    reporter = reporter or NullReporter()
    path = Path(path)
    sidecar = sidecar_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    reporter.emit(Progress("Exporting", 0, 3, f"writing {path.name}"))
    _atomic_write(path, lambda tmp: _export_pickle(learn, tmp))
    digest = sha256_file(path)
    remember_export(digest, path)

    n_checked, max_diff, mismatches = 0, float("nan"), 0
    if verify:
        reporter.emit(Progress("Exporting", 1, 3, "reloading and comparing predictions"))
        n_checked, max_diff, mismatches = _verify(learn, path, spec)
    verified = bool(verify and n_checked > 0 and mismatches == 0 and max_diff <= PROB_TOLERANCE)
    message = _verify_message(verify, verified, n_checked, max_diff, mismatches)

    meta = model_metadata(learn, spec=spec, config=config, metrics=metrics)
    meta["sha256"] = digest
    meta["verification"] = {
        "verified": verified, "n_checked": n_checked, "mismatches": mismatches,
        "max_prob_diff": None if np.isnan(max_diff) else max_diff,
    }
    text = json.dumps(meta, indent=2, sort_keys=False)
    _atomic_write(sidecar, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    reporter.emit(Progress("Exporting", 3, 3, message))
    return ExportReport(path, sidecar, verified, n_checked, max_diff, mismatches, message)


def sidecar_path(path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json") if path.suffix == ".json" else path.with_suffix(".json")


def _export_pickle(learn, target: Path) -> None:
    """`learn.export` without callbacks from outside fastai: those carry
    reporters (and through them GUI objects) that must never be pickled."""
    foreign = [cb for cb in learn.cbs if not type(cb).__module__.startswith("fastai.")]
    with learn.removed_cbs(foreign), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        learn.export(target.resolve())


def _atomic_write(path: Path, write) -> None:
    from tlstudio.core.atomic_files import atomic_write

    atomic_write(path, write)


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dataset_fingerprint(spec) -> str:
    """sha256 over the sorted (relative path, size, label, split) of every item:
    the same folder gives the same fingerprint on any machine."""
    base = Path(spec.root)
    base = base if base.is_dir() else base.parent
    rows = []
    for item, label, split in zip(spec.items, spec.labels, spec.splits):
        item = Path(item)
        try:
            rel = item.relative_to(base).as_posix()
        except ValueError:
            rel = item.as_posix()
        size = item.stat().st_size if item.exists() else -1
        rows.append(f"{rel}\t{size}\t{label}\t{split}")
    return hashlib.sha256("\n".join(sorted(rows)).encode("utf-8")).hexdigest()


def _normalization(learn) -> dict | None:
    from fastai.vision.all import Normalize

    for tfm in learn.dls.after_batch.fs:
        if isinstance(tfm, Normalize):
            return {"mean": np.asarray(tfm.mean.cpu()).ravel().tolist(), "std": np.asarray(tfm.std.cpu()).ravel().tolist()}
    return None


def model_metadata(learn, *, spec, config, metrics=None) -> dict:
    import fastai
    import torch
    import torchvision

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "classes": [str(c) for c in learn.dls.vocab],
        "architecture": config.arch,
        "input_size": config.augment.size,
        "resize_method": config.augment.resize_method,
        "normalization": _normalization(learn),
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
        "versions": {
            "tlstudio": __version__,
            "fastai": fastai.__version__,
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "python": platform.python_version(),
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


# ---------------------------------------------------------------- verification


def _verify(learn, path: Path, spec) -> tuple[int, float, int]:
    from tlstudio.core.data import items_frame

    frame = items_frame(spec, splits=("valid",)).head(VERIFY_MAX_ITEMS)
    if frame.empty:
        return 0, float("nan"), 0
    device = getattr(learn.dls, "device", None)
    # Straight from the file: a sidecar from an earlier export to this path is stale until rewritten.
    loaded = _unpickle(path, device=getattr(device, "type", "cpu") or "cpu")
    ours = _probabilities(learn, frame[["path"]])
    theirs = _probabilities(loaded, frame[["path"]])
    diff = float(np.abs(ours - theirs).max())
    mismatches = int((ours.argmax(1) != theirs.argmax(1)).sum())
    return len(frame), diff, mismatches


def _verify_message(verify, verified, n, diff, mismatches) -> str:
    if not verify:
        return "exported (not verified)"
    if n == 0:
        return "exported, but not verified: the dataset has no validation images"
    if verified:
        return f"exported and verified: the reloaded file predicts like the model on {n} validation images (max prob diff {diff:.1e})"
    return f"exported, but VERIFICATION FAILED on {n} images: {mismatches} different top-1, max prob diff {diff:.1e}"


def _probabilities(learn, frame) -> np.ndarray:
    dl = learn.dls.test_dl(frame)
    with learn.no_bar():
        probs, _ = learn.get_preds(dl=dl)
    return probs.float().cpu().numpy()


# ---------------------------------------------------------------- load and predict


def load_model(path, *, device: str = "cpu", trust: bool = False) -> LoadedModel:
    """Load an exported model. The file is unpickled only when this app
    exported it on this machine or `trust` is True (UntrustedModelError
    otherwise); a sidecar, which anyone can write, never decides that. A
    sidecar whose sha256 disagrees with the file is a ModelFileError, and
    anything that is not a fastai learner is a clear ModelFileError."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    metadata = _read_sidecar(path)
    digest = sha256_file(path)
    if metadata is not None and metadata.get("sha256") and metadata["sha256"] != digest:
        raise ModelFileError(
            f"{path}: the file was changed after export (its sha256 does not match {sidecar_path(path).name})"
        )
    if not trust and not exported_here(digest):
        raise UntrustedModelError(
            f"{path}: was not exported by TL Studio on this machine, so where it comes from is unknown; "
            "loading a pickle can run code, so load it only if you trust its source"
        )
    return LoadedModel(learn=_unpickle(path, device), path=path, metadata=metadata)


def _unpickle(path: Path, device: str = "cpu"):
    from fastai.learner import Learner, load_learner

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            learn = load_learner(path, cpu=device == "cpu")
    except Exception as exc:  # unpickling raises anything from EOFError to AttributeError
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise ModelFileError(
            f"{path}: not a TL Studio or fastai model file ({type(exc).__name__}{': ' + detail if detail else ''})"
        ) from exc
    if not isinstance(learn, Learner):
        raise ModelFileError(f"{path}: holds a {type(learn).__name__}, not a fastai model")
    return learn


def _read_sidecar(path: Path) -> dict | None:
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return None
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{sidecar}: the model's sidecar is not readable JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None  # someone else's JSON next to a model: not ours to judge
    return meta


def _unreadable(path: Path) -> str | None:
    """Why `path` cannot be used as an image, or None: the header check with
    the one pixel limit (core/image_check.py); the model's pipeline decodes it, once."""
    from tlstudio.core.image_check import check_image

    if not path.exists():
        return f"{path}: no such file"
    check = check_image(str(path))
    return None if check.ok else f"{path}: cannot read image ({check.detail})"


def _test_items(learn, paths: list[Path]):
    """Items in the form the learner's pipeline reads: our exports read a
    DataFrame column "path"; other fastai image models usually read paths."""
    import pandas as pd
    from fastai.data.transforms import ColReader

    tfms = getattr(learn.dls.valid_ds, "tls", [None])[0]
    reads_frame = tfms is not None and any(isinstance(t, ColReader) for t in tfms.tfms.fs)
    return pd.DataFrame({"path": [str(p) for p in paths]}) if reads_frame else [Path(p) for p in paths]


def predict(model: LoadedModel, image_paths, top_k: int = 3) -> list[Prediction]:
    """Top-k classes with probabilities for each image, in the given order.
    An unreadable image gets a Prediction with `error` set; the rest still run."""
    paths = [Path(p) for p in image_paths]
    errors = {i: _unreadable(p) for i, p in enumerate(paths)}
    good = [i for i, e in errors.items() if e is None]
    results: dict[int, Prediction] = {i: Prediction(paths[i], None, None, [], errors[i]) for i in errors if errors[i]}
    if good:
        from tlstudio.core.data import recording_decode_failures

        learn = model.learn
        dl = learn.dls.test_dl(_test_items(learn, [paths[i] for i in good]))
        failed: dict[str, str] = {}  # decoded only here: a file whose data is broken is left out of the batch
        with learn.no_bar(), recording_decode_failures(failed):
            # In item order (a test DataLoader is never shuffled): fastai's reordering breaks on a skipped item.
            probs, _ = learn.get_preds(dl=dl, reorder=False)
        for i in good:
            if str(paths[i]) in failed:
                error = f"{paths[i]}: cannot read image ({failed[str(paths[i])]})"
                results[i] = Prediction(paths[i], None, None, [], error)
        good = [i for i in good if str(paths[i]) not in failed]
        probs = probs.float().cpu().numpy()
        classes = model.classes
        k = max(1, min(top_k, len(classes)))
        for row, i in zip(probs, good):
            order = np.argsort(-row, kind="stable")[:k]
            ranked = [(classes[j], float(row[j])) for j in order]
            results[i] = Prediction(paths[i], ranked[0][0], ranked[0][1], ranked)
    return [results[i] for i in range(len(paths))]
