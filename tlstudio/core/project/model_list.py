"""Your own models, as the Model page lists them: the finished runs of some projects, and
model files added by hand. Reading is JSON in a zip (no torch, no pickle); a model that
cannot be read is one line saying which and why, and the others are still listed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tlstudio.core.project.layout import MODEL_FILE, ProjectError
from tlstudio.core.project.starting_model import StartingModel, starting_model


@dataclass(frozen=True)
class ListedModel:
    source: str  # what to start from: a run folder, or a .tlsmodel
    model: StartingModel


def list_models(project_roots, files) -> tuple[list[ListedModel], list[str]]:
    """The models of `project_roots`' runs (oldest first, project by project) and of `files`;
    each model once, however many ways it was reached. Also: one line per unreadable one."""
    from tlstudio.core.project.runs import list_runs

    listed: list[ListedModel] = []
    problems: list[str] = []
    seen: set[Path] = set()

    def add(source: Path) -> None:
        try:
            model = starting_model(source)
        except ProjectError as exc:
            problems.append(str(exc))
            return
        if model.path not in seen:
            seen.add(model.path)
            listed.append(ListedModel(str(source), model))

    for root in project_roots:
        root = Path(root)
        if not root.is_dir():
            continue  # a recent project since moved or deleted: nothing of it to list
        try:
            runs = list_runs(root)
        except ProjectError as exc:
            problems.append(str(exc))
            continue
        for run in runs:
            if (run.folder / MODEL_FILE).is_file():
                add(run.folder)
    for path in files:
        add(Path(path))
    return listed, problems


def display_label(model: StartingModel) -> str:
    """"run 002 of flowers" for a run (its project without the folder suffix), else the file's name."""
    return model.label.removesuffix(".tlsproject")


def dataset_name(model: StartingModel) -> str:
    """The folder name of the dataset it was trained on (its full path in `trained_on`)."""
    return Path(model.trained_on).name or model.trained_on
