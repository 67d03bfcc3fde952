"""Where a dataset's edit list is kept between runs: one JSON file per dataset in the app's data folder.

The file is named by the dataset's fingerprint (model_meta.dataset_fingerprint:
relative paths, sizes and labels of every image) taken without the splits, so
splitting the same files again (another validation fraction or seed) keeps
the edits, while changing the files themselves gives a new list. A project
also keeps its dataset's list in project.json (relative to the dataset, so it
follows a moved dataset) and puts it back here when opened. `load_edits` and
`save_edits` are the only way in and out of this folder.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from tlstudio.core.dataset.spec import DatasetError, DatasetSpec
from tlstudio.core.dataset.edits import DatasetEdits

FOLDER = "edits"


def dataset_key(spec: DatasetSpec) -> str:
    from tlstudio.core.dataset.fingerprint import dataset_fingerprint

    return dataset_fingerprint(replace(spec, splits=[""] * len(spec.items)))


def edits_path(spec: DatasetSpec) -> Path:
    from tlstudio.core.app_dirs import data_dir

    return data_dir() / FOLDER / f"{dataset_key(spec)}.json"


def load_edits(spec: DatasetSpec) -> DatasetEdits:
    """The edits kept for `spec` (none yet: an empty list). A file that cannot
    be read is set aside under a new name, never deleted, and DatasetError
    says where it went."""
    path = edits_path(spec)
    if not path.exists():
        return DatasetEdits()
    try:
        return DatasetEdits.load(path)
    except DatasetError as exc:
        aside = path.with_name(f"{path.stem}.unreadable-{datetime.now():%Y%m%d-%H%M%S}.json")
        path.replace(aside)
        raise DatasetError(f"{exc}; it was set aside as {aside.name} and the dataset starts with no edits") from None


def save_edits(spec: DatasetSpec, edits: DatasetEdits) -> Path:
    path = edits_path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    edits.save(path)
    return path
