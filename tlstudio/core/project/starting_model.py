"""Start a run from one of your own models instead of the ImageNet weights.

The starting point is a `.tlsmodel` or a run folder of a project (its
`model.tlsmodel`). The new learner has the model's architecture, so its body
and layer groups are those of the model; the body takes the model's weights
(BatchNorm statistics included) and the head is new, sized for the new
dataset's classes. Reading the model never unpickles anything.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from tlstudio.core.project.layout import MODEL_FILE, RUN_FILE, ProjectError


@dataclass(frozen=True)
class StartingModel:
    path: Path  # the .tlsmodel
    architecture: str
    classes: tuple[str, ...]
    input_size: int
    layer_groups: tuple[str, ...]
    trained_on: str  # the dataset it was trained on, as its file records it
    label: str  # how to show it: "run 002 of flowers" or the file's name

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(path=str(self.path), classes=list(self.classes), layer_groups=list(self.layer_groups))
        return data


def _read_meta(path: Path) -> dict:
    from tlstudio.core.delivery.model_file import META_NAME, MAX_META_BYTES

    try:
        with zipfile.ZipFile(path) as zf:
            if zf.getinfo(META_NAME).file_size > MAX_META_BYTES:
                raise ProjectError(f"{path}: its {META_NAME} is too large to be a model description")
            return json.loads(zf.read(META_NAME).decode("utf-8"))
    except (zipfile.BadZipFile, KeyError, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectError(f"{path}: not a readable TL Studio model file ({type(exc).__name__}: {exc})") from None


def starting_model(text) -> StartingModel:
    """The model `text` names: a `.tlsmodel`, or a project's run folder (runs/NNN)."""
    path = Path(text).expanduser()
    label = path.name
    if path.is_dir():
        if not (path / RUN_FILE).is_file():
            raise ProjectError(f"{path}: neither a .tlsmodel nor a run folder of a project (runs/NNN)")
        label = f"run {path.name} of {path.parent.parent.name}"
        path = path / MODEL_FILE
        if not path.is_file():
            raise ProjectError(f"{path.parent}: this run has no model yet (it has not finished an epoch and stopped)")
    elif path.suffix.lower() != ".tlsmodel":
        raise ProjectError(f"{path}: start from a .tlsmodel or a project's run folder")
    elif not path.is_file():
        raise ProjectError(f"{path}: no such model file")
    meta = _read_meta(path)
    from tlstudio.core.models.registry import ARCHS

    arch = meta.get("architecture")
    if arch not in ARCHS:
        raise ProjectError(f"{path}: its architecture ({arch}) is not one TL Studio can build")
    try:
        return StartingModel(
            path=path.resolve(), architecture=arch, classes=tuple(str(c) for c in meta["classes"]),
            input_size=int(meta["input_size"]), layer_groups=tuple(meta.get("layer_groups", ())),
            trained_on=str((meta.get("dataset") or {}).get("root", "unknown")), label=label,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProjectError(f"{path}: its model.json is incomplete ({type(exc).__name__}: {exc})") from None


def project_models(root) -> list[StartingModel]:
    """The models of a project's runs that have one, oldest first: what the Model page lists."""
    from tlstudio.core.project.runs import list_runs

    models = []
    for run in list_runs(Path(root)):
        if (run.folder / MODEL_FILE).is_file():
            try:
                models.append(starting_model(run.folder))
            except ProjectError:
                continue  # a damaged model is named when it is chosen, not while listing
    return models


def learner_from_model(spec, config, start: StartingModel, reporter=None):
    """A learner for `spec` whose body is `start`'s, with a new head for
    `spec`'s classes; body frozen, as `training.prepare_learner` leaves it."""
    from tlstudio.core.training import run as training
    from tlstudio.core.delivery.model_file import read_tlsmodel

    _, state = read_tlsmodel(start.path)
    learn = training.prepare_learner(spec, config.with_(arch=start.architecture, pretrained=False), reporter)
    body = {k[2:]: v for k, v in state.items() if k.startswith("0.")}
    try:
        learn.model[0].load_state_dict(body, strict=True)
    except RuntimeError as exc:
        raise ProjectError(f"{start.path}: its body does not fit a {start.architecture} model "
                           f"({str(exc).splitlines()[0][:200]})") from None
    learn.weights_origin = f"your model {start.label}"
    return learn


def config_for(config, start: StartingModel | None):
    """The config a run from `start` trains with: the model's architecture."""
    return config if start is None else config.with_(arch=start.architecture)
