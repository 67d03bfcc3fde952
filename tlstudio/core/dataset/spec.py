"""What a dataset is once scanned: its items, labels, splits and the files left out."""
from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tlstudio.core.errors import UserFacingError

SPLITS = ("train", "valid", "test")


# Every `SkippedFile.reason` scan can report, with a short title for lists and filters.
SKIP_REASONS = {
    "not-an-image": "Not an image",
    "zero-bytes": "Empty file",
    "unreadable-header": "Damaged header",
    "truncated": "Cut short",
    "unsupported-mode": "Unsupported image type",
    "too-many-pixels": "Too many pixels",
    "broken-symlink": "Broken link",
    "hidden": "Hidden or system file",
    "unreadable": "Cannot be read",
    "unlabelled": "Not in a class folder",
    "missing": "Listed but missing",
    "no-label": "No label",
    "duplicate": "Listed twice",
    "unsafe-path": "Unsafe path in zip",
    "outside-dataset": "Outside the dataset folder",
    "too-deep": "Nested too deep",
    "name-clash": "Name clash in zip",
    "name-too-long": "Name too long",
}


class DatasetError(UserFacingError):
    """A user-facing problem with a dataset path: one clear sentence."""


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str  # short code, e.g. "not-an-image", "zero-bytes", "too-many-pixels"
    detail: str  # one human sentence naming the problem


@dataclass
class DatasetSpec:
    root: Path  # what the user dropped (folder, CSV or zip)
    layout: str  # "class-folders" | "split-folders" | "csv" (+ zip: `source_zip` set)
    items: list[Path]
    labels: list[str]  # one per item
    splits: list[str]  # one per item: "train" | "valid" | "test"
    classes: list[str]  # sorted
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source_zip: Path | None = None
    seed: int | None = None  # seed of the random split, None when split by folders
    data_dir: Path | None = None  # folder the items lie under (inside a wrapper folder or the zip cache)
    sizes: list[tuple[int, int]] = field(default_factory=list)  # (width, height) per item, from headers
    modes: list[str] = field(default_factory=list)  # PIL mode per item ("RGB", "L", "CMYK", ...)

    def __len__(self) -> int:
        return len(self.items)

    # Jobs and their results carry the spec between the window and the engine process. As
    # 70,000 Paths, labels, splits, modes and size tuples it took 0.5 s to unpickle in one C call
    # that held the GIL, so the window's event loop stalled for 110 ms and more whenever a
    # result arrived. Each per-item list travels as one string (no path, label or mode holds
    # NUL) or one array of ints; the lists are rebuilt in Python, which lets the GIL go.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for name in _PER_ITEM_TEXT:
            state[name] = (len(state[name]), "\0".join(map(str, state[name])))
        state["sizes"] = array("q", [v for size in self.sizes for v in size])
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        for name, make in _PER_ITEM_TEXT.items():
            n, joined = state[name]
            state[name] = [make(v) for v in joined.split("\0")] if n else []
        flat = state["sizes"]
        state["sizes"] = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
        self.__dict__.update(state)

    @property
    def images_dir(self) -> Path:
        """The folder the images lie under (the dropped folder, or inside a wrapper or the zip cache)."""
        return Path(self.data_dir or self.root)

    def class_counts(self, split: str | None = None) -> dict[str, int]:
        counts = Counter(l for l, s in zip(self.labels, self.splits) if split is None or s == split)
        return {c: counts.get(c, 0) for c in self.classes}

    def split_counts(self) -> dict[str, int]:
        counts = Counter(self.splits)
        return {s: counts.get(s, 0) for s in SPLITS}

    def indices(self, split: str) -> list[int]:
        return [i for i, s in enumerate(self.splits) if s == split]

    @property
    def has_test(self) -> bool:
        return "test" in self.splits

_PER_ITEM_TEXT = {"items": Path, "labels": str, "splits": str, "modes": str}  # pickled joined


