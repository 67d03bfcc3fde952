"""Duplicate sets that cross splits (leaks) or classes (conflicting labels)."""
from __future__ import annotations

from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.doctor.duplicates import DuplicateSet
from tlstudio.core.doctor.findings import Finding


def _files(spec: DatasetSpec, members) -> tuple:
    return tuple(spec.items[i] for i in members)


def leaks(spec: DatasetSpec, sets: list[DuplicateSet], how: str) -> list[Finding]:
    """One finding per duplicate set whose copies lie in more than one split.
    `how` says what kind of copies they are ("exact" or "near")."""
    found = []
    for s in sets:
        splits = sorted({spec.splits[i] for i in s.members})
        if len(splits) > 1:
            found.append(Finding("leak", _files(spec, s.members), s.score,
                                 f"{how} copies in {' and '.join(splits)}"))
    return found


def conflicting_labels(spec: DatasetSpec, sets: list[DuplicateSet], how: str) -> list[Finding]:
    """One finding per duplicate set whose copies carry more than one label."""
    found = []
    for s in sets:
        labels = sorted({spec.labels[i] for i in s.members})
        if len(labels) > 1:
            found.append(Finding("conflicting_label", _files(spec, s.members), s.score,
                                 f"{how} copies labelled {' and '.join(repr(l) for l in labels)}"))
    return found


def duplicate_findings(spec: DatasetSpec, sets: list[DuplicateSet], kind: str) -> list[Finding]:
    how = "exact" if kind == "exact_duplicate" else "near"
    found = [Finding(kind, _files(spec, s.members), s.score, f"{len(s.members)} {how} copies") for s in sets]
    return found + leaks(spec, sets, how.capitalize()) + conflicting_labels(spec, sets, how.capitalize())
