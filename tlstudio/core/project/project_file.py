"""`project.json`: the dataset a project works on and every page's choices.

`pages` is the window's: a JSON object per page (chosen architecture, LR
curve and chosen rate, augmentation, ...), stored and handed back as it was
given. Writes are atomic; opening reads JSON only.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from tlstudio.core.project.dataset_ref import (
    DatasetMovedError,
    DatasetRef,
    ScanSettings,
    check_fingerprint,
    dataset_ref,
    find_dataset,
    scan_at,
)
from tlstudio.core.project.json_files import read_json, write_json
from tlstudio.core.project.layout import PROJECT_FILE, SUFFIX, ProjectError, now, runs_dir

FORMAT = "tlstudio-project"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Project:
    root: Path
    dataset: DatasetRef
    pages: dict = field(default_factory=dict)
    created: str = ""
    modified: str = ""

    @property
    def name(self) -> str:
        return self.root.name.removesuffix(SUFFIX)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": self.created,
            "modified": self.modified,
            "dataset": self.dataset.to_dict(),
            "pages": self.pages,
        }


def _checked_pages(pages) -> dict:
    if not isinstance(pages, dict) or not all(isinstance(k, str) for k in pages):
        raise ProjectError("a project's pages must be a JSON object keyed by page name")
    try:
        return json.loads(json.dumps(pages))  # a copy: later changes to the caller's dict are not saved
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"a project's pages must hold JSON values only ({exc})") from None


def save_project(project: Project) -> Project:
    project = replace(project, modified=now())
    write_json(project.root / PROJECT_FILE, project.to_dict())
    return project


def create_project(root, spec, scan: ScanSettings, pages: dict | None = None) -> Project:
    """A new project folder for the dataset `spec` (scanned with `scan`)."""
    root = Path(root)
    if (root / PROJECT_FILE).exists():
        raise ProjectError(f"{root}: already a project; open it instead")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ProjectError(f"{root}: exists and is not an empty folder; choose a new name for the project")
    runs_dir(root).mkdir(parents=True, exist_ok=True)
    stamp = now()
    project = Project(root, dataset_ref(spec, root, scan), _checked_pages(pages or {}), stamp, stamp)
    return save_project(project)


def open_project(root) -> Project:
    root = Path(root)
    if not root.is_dir():
        raise ProjectError(f"{root}: no such project folder")
    path = root / PROJECT_FILE
    data = read_json(path, "project file", format_name=FORMAT, max_version=FORMAT_VERSION)
    if not isinstance(data.get("dataset"), dict):
        raise ProjectError(f"{path}: names no dataset")
    pages = data.get("pages", {})
    if not isinstance(pages, dict):
        raise ProjectError(f"{path}: its pages entry is not a JSON object")
    return Project(root, DatasetRef.from_dict(data["dataset"], path), pages,
                   str(data.get("created", "")), str(data.get("modified", "")))


def set_pages(project: Project, pages: dict) -> Project:
    """Store every page's choices (replacing the previous ones) and save."""
    return save_project(replace(project, pages=_checked_pages(pages)))


def open_dataset(project: Project, reporter=None):
    """The project's dataset, scanned as it was, with its fingerprint checked.
    Found beside the project after both moved, its new location is recorded.
    Raises DatasetMovedError when it is nowhere to be found (then ask the user
    and call `relocate_dataset`), DatasetMismatchError when it changed."""
    location = find_dataset(project.dataset, project.root)
    if location is None:
        raise DatasetMovedError(
            f"{project.dataset.location}: the dataset of project {project.root} is no longer there; "
            "give its new location"
        )
    spec = scan_at(location, project.dataset.scan, reporter)
    check_fingerprint(project.dataset, spec, location)
    if str(location) != project.dataset.location:
        project = save_project(replace(project, dataset=_moved(project, spec)))
    return project, spec


def relocate_dataset(project: Project, location, reporter=None):
    """Accept `location` as the project's dataset if its fingerprint matches,
    and record it; returns (the saved project, the scanned dataset)."""
    location = Path(location).expanduser()
    if not location.exists():
        raise ProjectError(f"{location}: no such dataset")
    spec = scan_at(location, project.dataset.scan, reporter)
    check_fingerprint(project.dataset, spec, location)
    return save_project(replace(project, dataset=_moved(project, spec))), spec


def save_project_as(project: Project, target) -> Project:
    """File > Save as: a copy of the whole project (pages and runs) at `target`,
    a new folder, whose dataset entry points at the same dataset."""
    import shutil

    from tlstudio.core.project.layout import LIVE_FILE
    from tlstudio.core.project.runs import list_runs

    target = Path(target)
    if target.exists():
        raise ProjectError(f"{target}: already exists; choose a new name for the copy")
    busy = [r.number for r in list_runs(project.root) if r.live]
    if busy:
        raise ProjectError(f"{project.root}: run {busy[0]} is training; save a copy once it stops")
    stage = target.with_name(f".{target.name}.copying")
    shutil.rmtree(stage, ignore_errors=True)  # left by a copy that was killed
    shutil.copytree(project.root, stage, ignore=shutil.ignore_patterns(LIVE_FILE, ".*.tmp", ".checkpoint-removed-*"))
    os.replace(stage, target)  # the copy appears whole or not at all
    ref = replace(project.dataset, relative=_relative_to(Path(project.dataset.location), target))
    return save_project(replace(project, root=target, dataset=ref))


def _relative_to(location: Path, root: Path) -> str | None:
    try:
        return Path(os.path.relpath(location, root.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return None


def _moved(project: Project, spec) -> DatasetRef:
    return dataset_ref(spec, project.root, project.dataset.scan)
