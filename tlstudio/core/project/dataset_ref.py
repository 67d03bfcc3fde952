"""A project's dataset: where it is, how it was scanned, and its fingerprint.

The fingerprint is the model files' own (`model_meta.dataset_fingerprint`:
relative path, size, label and split of every item), taken relative to the
folder the items lie in, so a dataset that moves keeps its fingerprint and
a file added, removed, resized or relabelled changes it. A moved dataset is
found again at its path relative to the project (project and data moved
together), or at a location the user gives (`relocate_dataset`), which is
accepted only when its fingerprint matches.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tlstudio.core.project.layout import ProjectError


class DatasetMovedError(ProjectError):
    """The project's dataset is no longer where the project last saw it."""


class DatasetMismatchError(ProjectError):
    """A dataset that is not the project's (its fingerprint differs)."""


@dataclass(frozen=True)
class ScanSettings:
    """What `dataset.scan` was given, so a rescan splits the items as before."""

    valid_pct: float = 0.2
    test_pct: float = 0.0
    seed: int = 42
    allow_outside: bool = False


@dataclass(frozen=True)
class DatasetRef:
    location: str  # absolute path as last seen (folder, CSV or zip)
    relative: str | None  # the same from the project folder, when they share a drive
    fingerprint: str
    layout: str
    n_items: int
    classes: tuple[str, ...]
    scan: ScanSettings

    def to_dict(self) -> dict:
        data = asdict(self)
        data["classes"] = list(self.classes)
        return data

    @classmethod
    def from_dict(cls, data: dict, source: Path) -> "DatasetRef":
        try:
            return cls(
                location=str(data["location"]),
                relative=data.get("relative"),
                fingerprint=str(data["fingerprint"]),
                layout=str(data["layout"]),
                n_items=int(data["n_items"]),
                classes=tuple(str(c) for c in data["classes"]),
                scan=ScanSettings(**data.get("scan", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProjectError(f"{source}: its dataset entry is incomplete ({type(exc).__name__}: {exc})") from None


def fingerprint(spec) -> str:
    from tlstudio.core.dataset.fingerprint import dataset_fingerprint

    # A zip's items lie in the extraction cache: relative to it, the
    # fingerprint does not depend on where this machine keeps that cache.
    if spec.source_zip is not None and spec.data_dir is not None:
        spec = replace(spec, root=Path(spec.data_dir))
    return dataset_fingerprint(spec)


def _relative(location: Path, project_root: Path) -> str | None:
    try:
        return Path(os.path.relpath(location, project_root)).as_posix()
    except ValueError:  # another drive (Windows)
        return None


def dataset_ref(spec, project_root: Path, scan: ScanSettings) -> DatasetRef:
    location = Path(spec.root).resolve()
    return DatasetRef(
        location=str(location),
        relative=_relative(location, Path(project_root).resolve()),
        fingerprint=fingerprint(spec),
        layout=spec.layout,
        n_items=len(spec.items),
        classes=tuple(spec.classes),
        scan=scan,
    )


def scan_at(location, scan: ScanSettings, reporter=None):
    from tlstudio.core.dataset.scan import scan as scan_dataset

    return scan_dataset(location, valid_pct=scan.valid_pct, test_pct=scan.test_pct, seed=scan.seed,
                        reporter=reporter, allow_outside=scan.allow_outside)


def find_dataset(ref: DatasetRef, project_root: Path) -> Path | None:
    """Where the dataset is now: its last location, or its place relative to
    the project (both moved together); None when neither exists."""
    candidates = [Path(ref.location)]
    if ref.relative is not None:
        candidates.append(Path(project_root) / ref.relative)
    return next((p.resolve() for p in candidates if p.exists()), None)


def check_fingerprint(ref: DatasetRef, spec, location) -> None:
    found = fingerprint(spec)
    if found != ref.fingerprint:
        raise DatasetMismatchError(
            f"{location}: not the project's dataset as it was ({len(spec.items)} images in "
            f"{len(spec.classes)} classes, the project's had {ref.n_items} in {len(ref.classes)}); "
            "a file was added, removed, changed or relabelled, or this is another dataset"
        )
