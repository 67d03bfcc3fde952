"""Export a trained learner to any model format, verified; load any model file back; predict.

Formats (by suffix, model_meta.FORMATS): `.tlsmodel` (ours: safetensors +
JSON, never unpickled), `.pkl` (fastai's learner pickle, loadable by plain
fastai), `.onnx` and `.pt` (TorchScript), each with a JSON sidecar
(`<file>.json`: classes, preprocessing, metrics, sha256, verification) and,
for the last two, a standalone predict.py beside them.

An export is one unit (export_target.py): checked, locked, written into a
staging folder beside the target, verified there in a fresh process
(export_verify.py), then moved into place, the model file last.

Loading a pickle can run code: `load_model` unpickles a `.pkl` only when this
app exported that very file on this machine (its sha256 is in the local
record of core/trusted_files.py) or the caller passes `trust=True`. The
sidecar never grants trust: whoever sends a pickle can forge it too. The
other formats hold no pickle and need no trust.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tlstudio.core.delivery.formats import NEEDS_STANDALONE, file_facts, write_model, write_standalone
from tlstudio.core.delivery.model_meta import (  # noqa: F401  (the names callers import from here)
    FORMAT,
    FORMAT_VERSION,
    ModelFileError,
    UntrustedModelError,
    dataset_fingerprint,
    describe,
    format_of,
    model_metadata,
    sha256_file,
    sidecar_path,
)
from tlstudio.core.delivery.target import (
    ExportTargetError,
    another_path,
    check_target,
    estimated_bytes,
    move_into_place,
    staging_folder,
    target_lock,
)
from tlstudio.core.delivery.trusted_files import exported_here, remember_export
from tlstudio.core.delivery.verify import VERIFY_MAX_ITEMS, Verification, verify_file
from tlstudio.core.events import Cancelled, NullReporter, Progress


@dataclass(frozen=True)
class ExportReport:
    path: Path
    sidecar: Path
    format: str  # "tlsmodel" | "pkl" | "onnx" | "torchscript"
    verification: Verification | None  # None when not checked
    message: str  # one line for the user
    extra_files: tuple[Path, ...] = ()  # predict.py beside an .onnx / .pt

    @property
    def verified(self) -> bool:
        return self.verification is not None and self.verification.verified

    @property
    def n_checked(self) -> int:
        return self.verification.n_checked if self.verification else 0

    @property
    def max_prob_diff(self) -> float:
        return self.verification.max_prob_diff if self.verification else float("nan")

    @property
    def mismatches(self) -> int:
        return self.verification.mismatches if self.verification else 0


@dataclass
class LoadedModel:
    path: Path
    format: str  # "tlsmodel" | "pkl" | "onnx" | "torchscript"
    classes: list[str]
    metadata: dict | None  # model.json / the sidecar, when there is one
    learn: object = None  # a fastai Learner for .tlsmodel, .pkl and the model in memory
    runtime: object = None  # standalone_predict.Runtime for .onnx and .pt

    def probabilities(self, paths) -> np.ndarray:
        """Class probabilities (rows in input order) for readable image files,
        through this format's own preprocessing."""
        paths = [Path(p) for p in paths]
        if self.learn is not None:
            from tlstudio.core.delivery.inference_data import learner_probabilities

            return learner_probabilities(self.learn, paths)
        from tlstudio.core.delivery import standalone_predict

        return standalone_predict.probabilities(self.runtime, self.metadata, paths)


@dataclass(frozen=True)
class Prediction:
    path: Path
    label: str | None  # None when the image could not be read
    prob: float | None
    top_k: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None


def loaded_from_learner(learn, metadata=None) -> LoadedModel:
    """The learner in memory, used like a loaded file (its path is None until exported)."""
    return LoadedModel(path=None, format="memory", classes=[str(c) for c in learn.dls.vocab],
                       metadata=metadata, learn=learn)


# ---------------------------------------------------------------- export


def export_model(learn, path, *, spec=None, config=None, metrics=None, metadata=None, images=None,
                 verify=True, overwrite=False, reporter=None) -> ExportReport:
    """Write `learn` to `path` in the format its suffix names, with its sidecar,
    verified in a fresh process on `images` (default: up to 64 validation
    images of `spec`) unless `verify` is False. `metadata` (a loaded model's)
    stands in for `spec` and `config` when converting a file."""
    reporter = reporter or NullReporter()
    path = Path(path).expanduser()
    fmt = format_of(path)
    meta = describe(metadata) if metadata is not None else model_metadata(learn, spec=spec, config=config, metrics=metrics)
    n_params = sum(p.numel() for p in learn.model.parameters())
    needed = estimated_bytes(n_params)
    check_target(path, needed_bytes=needed, overwrite=overwrite)
    images = _verification_images(spec, images) if verify else []
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return _export_unit(learn, path, fmt, meta, images, verify, overwrite, reporter)
    except OSError as exc:  # a full disk or a vanished folder mid-write: nothing was moved into place
        raise ExportTargetError(f"{path}: could not be written ({exc.strerror or exc})", another_path(path, needed)) from exc


def _export_unit(learn, path: Path, fmt: str, meta: dict, images, verify: bool, overwrite: bool, reporter) -> ExportReport:
    """Lock, stage, write, verify, move into place."""
    steps = 4
    with target_lock(path), staging_folder(path) as stage:
        check_target(path, needed_bytes=0, overwrite=overwrite)  # again, now that no other export can write it
        _step(reporter, 0, steps, f"writing {path.name}")
        staged = stage / path.name
        write_model(fmt, learn, staged, meta)
        extra = [write_standalone(stage)] if fmt in NEEDS_STANDALONE else []
        digest = sha256_file(staged)
        remember_export(digest, path)
        sidecar = {**meta, "file_format": fmt, **file_facts(fmt, meta), "sha256": digest}
        staged_sidecar = stage / sidecar_path(path).name
        # predict.py reads the sidecar: it is written before the check, then again with the check's figures.
        _write_json(staged_sidecar, {**sidecar, "verification": {"verified": False, "n_checked": 0}})
        verification = None
        if verify:
            _step(reporter, 1, steps, f"reloading {path.name} in a fresh process and comparing predictions")
            reference = loaded_from_learner(learn).probabilities(images)
            verification = verify_file(fmt, staged, images, reference, [str(c) for c in learn.dls.vocab])
            _step(reporter, 2, steps, "writing the sidecar")
            _write_json(staged_sidecar, {**sidecar, "verification": verification.as_dict()})
        _step(reporter, 3, steps, "moving the files into place")
        moves = [(f, path.parent / f.name) for f in extra] + [(staged_sidecar, sidecar_path(path)), (staged, path)]
        move_into_place(moves)
    message = _message(fmt, verification)
    reporter.emit(Progress("Exporting", steps, steps, message))
    return ExportReport(path, sidecar_path(path), fmt, verification, message, tuple(m[1] for m in moves[:-2]))


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _step(reporter, done: int, total: int, text: str) -> None:
    if reporter.cancel_requested():
        raise Cancelled("export cancelled")
    reporter.emit(Progress("Exporting", done, total, text))


def _verification_images(spec, images) -> list[Path]:
    """Up to VERIFY_MAX_ITEMS images that decode: a file broken since the scan
    would make plain fastai's check fail on the file, not on the model."""
    from tlstudio.core.dataset.image_check import ImageProblem, decode_checked

    if images is None:
        images = [] if spec is None else [spec.items[i] for i in spec.indices("valid")]
    kept = []
    for path in map(Path, images):
        if len(kept) == VERIFY_MAX_ITEMS:
            break
        try:
            decode_checked(path)
        except ImageProblem:
            continue
        kept.append(path)
    return kept


def _message(fmt: str, v: Verification | None) -> str:
    if v is None:
        return "exported (not verified)"
    if v.error == "no images to compare on":
        return "exported, but not verified: there are no validation images to compare on"
    if v.verified:
        return (f"exported and verified: reloaded in a fresh process ({v.runtime}), it predicts like the model on "
                f"{v.n_checked} images: top-1 identical, max prob diff {v.max_prob_diff:.1e} (tolerance {v.tolerance:.0e})")
    return f"exported, but VERIFICATION FAILED: {v.figures()}"


# ---------------------------------------------------------------- load and predict


# Formats whose loading runs a program the file carries; .tlsmodel and ONNX
# hold only tensors and an operator graph.
RUNS_CODE = {
    "pkl": "loading a pickle can run any code",
    "torchscript": "a TorchScript file carries its own program, and its unpickler has had code-execution holes",
}


def load_model(path, *, device: str = "cpu", trust: bool = False) -> LoadedModel:
    """Load a model file of any format. A `.pkl` or TorchScript `.pt` is
    opened only when this app exported it on this machine or `trust` is True
    (UntrustedModelError otherwise); a sidecar, which anyone can write, never
    decides that. A
    sidecar whose sha256 disagrees with the file is a ModelFileError, and a
    file that is not a model of its format is a clear ModelFileError."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    fmt = format_of(path)
    if fmt == "tlsmodel":
        from tlstudio.core.delivery.model_file import learner_from_tlsmodel

        learn, meta = learner_from_tlsmodel(path, device)
        return LoadedModel(path, fmt, [str(c) for c in meta["classes"]], meta, learn=learn)
    metadata = _read_sidecar(path)
    digest = sha256_file(path)
    if metadata is not None and metadata.get("sha256") and metadata["sha256"] != digest:
        raise ModelFileError(
            f"{path}: the file was changed after export (its sha256 does not match {sidecar_path(path).name})"
        )
    if fmt in RUNS_CODE and not trust and not exported_here(digest):
        raise UntrustedModelError(
            f"{path}: was not exported by TL Studio on this machine, so where it comes from is unknown; "
            f"{RUNS_CODE[fmt]}, so load it only if you trust its source"
        )
    if fmt == "pkl":
        learn = _unpickle(path, device)
        return LoadedModel(path, fmt, [str(c) for c in learn.dls.vocab], metadata, learn=learn)
    if metadata is None:
        raise ModelFileError(f"{path}: needs its sidecar {sidecar_path(path).name} (classes and preprocessing) beside it")
    return LoadedModel(path, fmt, [str(c) for c in metadata["classes"]], metadata, runtime=_runtime(path))


def _runtime(path: Path):
    from tlstudio.core.delivery.standalone_predict import Runtime

    try:
        return Runtime(path)
    except Exception as exc:  # onnxruntime and torch.jit raise their own types for a bad file
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise ModelFileError(f"{path}: not a loadable model ({type(exc).__name__}{': ' + detail if detail else ''})") from exc


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
    from tlstudio.core.dataset.image_check import check_image

    if not path.exists():
        return f"{path}: no such file"
    check = check_image(str(path))
    return None if check.ok else f"{path}: cannot read image ({check.detail})"


def predict(model: LoadedModel, image_paths, top_k: int = 3) -> list[Prediction]:
    """Top-k classes with probabilities for each image, in the given order.
    An unreadable image gets a Prediction with `error` set; the rest still run."""
    paths = [Path(p) for p in image_paths]
    errors = {i: _unreadable(p) for i, p in enumerate(paths)}
    good = [i for i, e in errors.items() if e is None]
    results: dict[int, Prediction] = {i: Prediction(paths[i], None, None, [], errors[i]) for i in errors if errors[i]}
    if good:
        from tlstudio.core.dataset.loaders import recording_decode_failures

        failed: dict[str, str] = {}  # decoded only here: a file whose data is broken is left out of the batch
        with recording_decode_failures(failed):
            probs = model.probabilities([paths[i] for i in good])
        for i in good:
            if str(paths[i]) in failed:
                error = f"{paths[i]}: cannot read image ({failed[str(paths[i])]})"
                results[i] = Prediction(paths[i], None, None, [], error)
        good = [i for i in good if str(paths[i]) not in failed]
        classes = model.classes
        k = max(1, min(top_k, len(classes)))
        for row, i in zip(probs, good):
            order = np.argsort(-row, kind="stable")[:k]
            ranked = [(classes[j], float(row[j])) for j in order]
            results[i] = Prediction(paths[i], ranked[0][0], ranked[0][1], ranked)
    return [results[i] for i in range(len(paths))]


def format_diff(diff) -> str:
    """A probability difference as the pages and CLI print it."""
    return "—" if diff is None or math.isnan(diff) else "0 (identical)" if diff == 0 else f"{diff:.1e}"
