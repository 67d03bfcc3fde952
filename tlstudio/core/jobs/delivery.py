"""Evaluate, export, load and predict as jobs, on a model held in the process that runs them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tlstudio.core.config import TrainConfig
from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.errors import UserFacingError
from tlstudio.core.jobs import held


@dataclass(frozen=True)
class HeldModelFile:
    """A model file loaded into the engine: what the window shows of it, and its id there."""

    model_id: str
    path: Path
    format: str
    classes: list[str]
    metadata: dict | None


def _learner(model_id: str):
    return held.get(model_id).learn


def _predictable(model_id: str):
    """A held model as the `LoadedModel` that `predict`/`run_batch` take."""
    from tlstudio.core.delivery.export import LoadedModel, loaded_from_learner

    model = held.get(model_id)
    return model if isinstance(model, LoadedModel) else loaded_from_learner(model.learn)


@dataclass(frozen=True)
class EvaluateJob:
    """`interpret` on one split of the dataset the model trained on."""

    model_id: str
    spec: DatasetSpec
    split: str = "valid"

    def __call__(self, reporter):
        from tlstudio.core.delivery.interpret import interpret

        return interpret(_learner(self.model_id), self.spec, split=self.split, reporter=reporter)


@dataclass(frozen=True)
class ExportJob:
    """`export_model` of a held model: a trained one, or a model file being converted (its own
    `metadata` then stands in for `spec` and `config`; `images` to verify on instead of the
    dataset's). A target that cannot be written comes back as the `ExportTargetError` itself
    (a value, not a failure), so the window can offer its fix."""

    model_id: str
    path: Path
    spec: DatasetSpec | None = None
    config: TrainConfig | None = None
    metrics: dict | None = None
    overwrite: bool = False
    verify: bool = True
    metadata: dict | None = None
    images: list[Path] | None = None

    def __call__(self, reporter):
        from tlstudio.core.delivery.export import LoadedModel, export_model
        from tlstudio.core.delivery.target import ExportTargetError

        model = held.get(self.model_id)
        metadata = self.metadata
        if isinstance(model, LoadedModel):  # converting a file: what it records, or its pipeline's own
            if model.learn is None:
                raise UserFacingError(f"{model.path}: convert from a .tlsmodel or .pkl; "
                                      "an .onnx or .pt holds no fastai model")
            metadata = metadata or model.metadata or pipeline_metadata(model)
        try:
            return export_model(model.learn, self.path, spec=self.spec, config=self.config, metrics=self.metrics,
                                metadata=metadata, images=self.images, overwrite=self.overwrite,
                                verify=self.verify, reporter=reporter)
        except ExportTargetError as exc:
            return exc


def pipeline_metadata(model) -> dict:
    """For a fastai .pkl from elsewhere: what its own pipeline says."""
    from tlstudio.core.delivery.model_meta import FORMAT, FORMAT_VERSION, normalization, versions

    resize = next((t for t in model.learn.dls.after_item.fs if type(t).__name__ == "Resize"), None)
    if resize is None:
        raise UserFacingError(f"{model.path}: its pipeline has no Resize, so its input size is unknown")
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "classes": model.classes,
        "architecture": None, "input_size": int(resize.size[0]), "resize_method": str(resize.method),
        "normalization": normalization(model.learn), "versions": versions(),
    }


@dataclass(frozen=True)
class LoadModelJob:
    """`load_model`, kept in this process. An untrusted pickle comes back as the
    `UntrustedModelError` itself, so the window can ask and load again with `trust`."""

    path: Path
    trust: bool = False

    def __call__(self, reporter):
        from tlstudio.core.delivery.export import UntrustedModelError, load_model

        try:
            model = load_model(self.path, trust=self.trust)
        except UntrustedModelError as exc:
            return exc
        return HeldModelFile(held.hold(model, "file"), model.path, model.format, list(model.classes), model.metadata)


@dataclass(frozen=True)
class PredictJob:
    """`run_batch` with a held model (a trained one or a loaded file) on dropped paths."""

    model_id: str
    paths: list[Path] = field(default_factory=list)
    top_k: int | None = None

    def __call__(self, reporter):
        from tlstudio.core.delivery.predict_batch import run_batch

        return run_batch(_predictable(self.model_id), self.paths, top_k=self.top_k, reporter=reporter)


@dataclass(frozen=True)
class GradCamJob:
    """Grad-CAM overlays (plain arrays) of a held model on image files."""

    model_id: str
    paths: list[Path] = field(default_factory=list)

    def __call__(self, reporter):
        from tlstudio.core.delivery.grad_cam import overlays

        return overlays(held.get(self.model_id), self.paths, reporter)


@dataclass(frozen=True)
class PredictImagesJob:
    """`predict` (top `top_k` classes per image) with a held model on a few image files."""

    model_id: str
    paths: list[Path] = field(default_factory=list)
    top_k: int = 3

    def __call__(self, reporter):
        from tlstudio.core.delivery.export import predict

        return predict(_predictable(self.model_id), [Path(p) for p in self.paths], top_k=self.top_k)
