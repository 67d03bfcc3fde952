"""Edits to a dataset that the next run trains on, without touching its files.

An edit list excludes images, gives images another label or moves them to
another split. `apply(spec)` returns the DatasetSpec with the edits applied;
the files stay where they are. The list is saved as JSON (atomically) so it
survives a restart.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from tlstudio.core.dataset.spec import SPLITS, DatasetError, DatasetSpec

FORMAT = "tlstudio-dataset-edits"


@dataclass
class DatasetEdits:
    excluded: set[Path] = field(default_factory=set)
    relabelled: dict[Path, str] = field(default_factory=dict)  # path -> new label
    moved: dict[Path, str] = field(default_factory=dict)  # path -> new split

    def __len__(self) -> int:
        return len(self.excluded) + len(self.relabelled) + len(self.moved)

    def exclude(self, path) -> None:
        self.excluded.add(Path(path))

    def relabel(self, path, label: str) -> None:
        self.relabelled[Path(path)] = label

    def move(self, path, split: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        self.moved[Path(path)] = split

    def restore(self, path) -> None:
        """Forget every edit of `path`: it is trained on as the files say."""
        path = Path(path)
        self.excluded.discard(path)
        self.relabelled.pop(path, None)
        self.moved.pop(path, None)

    def edited(self, path) -> bool:
        path = Path(path)
        return path in self.excluded or path in self.relabelled or path in self.moved

    def paths(self) -> set[Path]:
        return set(self.excluded) | set(self.relabelled) | set(self.moved)

    def unmatched(self, spec: DatasetSpec) -> list[Path]:
        """The edited paths that are not images of `spec` (moved, deleted, or another dataset's)."""
        items = set(spec.items)
        return sorted(p for p in self.paths() if p not in items)

    def describe(self) -> str:
        """"2 excluded, 1 relabelled, 1 moved to another split", or "no edits"."""
        parts = [f"{n} {what}" for n, what in ((len(self.excluded), "excluded"), (len(self.relabelled), "relabelled"),
                                               (len(self.moved), "moved to another split")) if n]
        return ", ".join(parts) or "no edits"

    def keep_one(self, paths, keep) -> None:
        """Of a duplicate set, keep `keep` and exclude the others."""
        for p in paths:
            if Path(p) != Path(keep):
                self.exclude(p)

    def apply(self, spec: DatasetSpec) -> DatasetSpec:
        rows = [
            (item, self.relabelled.get(item, label), self.moved.get(item, split), size, mode)
            for item, label, split, size, mode in zip(
                spec.items, spec.labels, spec.splits,
                spec.sizes or [None] * len(spec.items), spec.modes or [None] * len(spec.items))
            if item not in self.excluded
        ]
        return replace(
            spec,
            items=[r[0] for r in rows],
            labels=[r[1] for r in rows],
            splits=[r[2] for r in rows],
            classes=sorted({r[1] for r in rows}),
            sizes=[r[3] for r in rows] if spec.sizes else [],
            modes=[r[4] for r in rows] if spec.modes else [],
        )

    def to_dict(self, base: Path | None = None) -> dict:
        """As JSON values; with `base`, paths under it are written relative to it, so a
        project keeps its edits when its dataset moves."""
        def name(p: Path) -> str:
            if base is not None and p.is_relative_to(base):
                return p.relative_to(base).as_posix()
            return str(p)

        return {
            "format": FORMAT,
            "excluded": sorted(name(p) for p in self.excluded),
            "relabelled": {name(p): label for p, label in sorted(self.relabelled.items())},
            "moved": {name(p): split for p, split in sorted(self.moved.items())},
        }

    @classmethod
    def from_dict(cls, data: dict, base: Path | None = None) -> "DatasetEdits":
        """The inverse of `to_dict(base)`: relative paths are taken under `base`."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a dataset edit list")

        def path(text) -> Path:
            p = Path(str(text))
            return p if p.is_absolute() or base is None else Path(base) / p

        edits = cls({path(p) for p in data["excluded"]},
                    {path(p): str(v) for p, v in data["relabelled"].items()}, {})
        for p, split in data["moved"].items():
            edits.move(path(p), split)
        return edits

    def save(self, path) -> None:
        from tlstudio.core.atomic_files import atomic_write_text

        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        atomic_write_text(Path(path), text)

    @classmethod
    def load(cls, path) -> "DatasetEdits":
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DatasetError(f"{path}: cannot read the edit list ({exc})") from None
