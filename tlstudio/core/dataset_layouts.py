"""Find the files of a dataset and their labels: class folders, split folders or a CSV.

This module lists files and reads names only; whether each file is a usable
image is decided afterwards by `image_check`. Hidden files, broken links and
files that are plainly not images are recorded here as skipped, with a reason.
"""
from __future__ import annotations

import csv
import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from tlstudio.core.dataset import DatasetError, SkippedFile
from tlstudio.core.events import Cancelled, NullReporter, Progress
from tlstudio.core.image_check import IMAGE_EXTENSIONS

SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "valid": "valid", "val": "valid", "validation": "valid", "dev": "valid",
    "test": "test", "testing": "test",
}
SYSTEM_NAMES = frozenset({
    "thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r", "__macosx",
    "$recycle.bin", "system volume information", "@eadir",
})
FILE_COLUMNS = ("file", "filename", "file_name", "path", "image", "fname")
LABEL_COLUMNS = ("label", "class", "category")
SPLIT_COLUMNS = ("split", "set", "subset")

Candidate = tuple  # (path: str, label: str, split: str | None); None: the random split decides


@dataclass
class Found:
    """What a layout yields before the images themselves are checked."""

    layout: str
    data_dir: Path
    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _is_image_name(name: str) -> bool:
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in IMAGE_EXTENSIONS


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in SYSTEM_NAMES


def _hidden(path: str, name: str, is_dir: bool) -> SkippedFile:
    if name.startswith("._"):
        detail = f"'{name}' is macOS metadata, not an image"
    elif is_dir:
        detail = f"'{name}' is a hidden or system folder; it was not scanned"
    else:
        detail = f"'{name}' is a hidden or system file"
    return SkippedFile(Path(path), "hidden", detail)


@dataclass
class Listing:
    dirs: list[tuple[str, str]]  # (name, path)
    files: list[tuple[str, str]]
    skipped: list[SkippedFile]


def list_dir(folder: str) -> Listing:
    """One folder's visible subfolders and files, sorted by name; links resolved."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except PermissionError:
        raise DatasetError(f"Cannot read the folder {folder}: permission denied") from None
    except NotADirectoryError:
        raise DatasetError(f"{folder} is not a folder") from None
    except OSError as exc:
        raise DatasetError(f"Cannot read the folder {folder}: {exc.strerror or exc}") from None
    out = Listing([], [], [])
    for e in entries:
        try:
            if is_hidden(e.name):
                out.skipped.append(_hidden(e.path, e.name, e.is_dir()))
            elif e.is_symlink():
                _add_link(e, out)
            elif e.is_dir():
                out.dirs.append((e.name, e.path))
            elif e.is_file():
                out.files.append((e.name, e.path))
            else:
                out.skipped.append(SkippedFile(Path(e.path), "not-an-image", f"'{e.name}' is not a regular file"))
        except OSError as exc:
            out.skipped.append(SkippedFile(Path(e.path), "unreadable", f"'{e.name}' cannot be read: {exc.strerror}"))
    return out


def _add_link(e: os.DirEntry, out: Listing) -> None:
    try:
        st = os.stat(e.path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            detail = f"'{e.name}' is a symbolic link loop"
        else:
            detail = f"'{e.name}' is a symbolic link to '{os.readlink(e.path)}', which does not exist"
        out.skipped.append(SkippedFile(Path(e.path), "broken-symlink", detail))
        return
    (out.dirs if stat.S_ISDIR(st.st_mode) else out.files).append((e.name, e.path))


def _key(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


class Walker:
    """Collects the image candidates under class folders, following links once."""

    def __init__(self, reporter=None, above: tuple[str, ...] = ()):
        self.reporter = reporter or NullReporter()
        self.found: list[Candidate] = []
        self.skipped: list[SkippedFile] = []
        self._seen: set[tuple[int, int]] = set()
        self._above = tuple(_key(os.stat(p)) for p in above)  # folders holding the class folders

    def add_class_folder(self, folder: str, label: str, split: str | None) -> None:
        self._walk(folder, label, split, ancestors=self._above)

    def _walk(self, folder: str, label: str, split: str | None, ancestors: tuple) -> None:
        if self.reporter.cancel_requested():
            raise Cancelled()
        key = _key(os.stat(folder))
        name = os.path.basename(folder)
        if key in ancestors:
            self.skipped.append(SkippedFile(Path(folder), "broken-symlink",
                                            f"'{name}' links back to a folder that contains it (a loop)"))
            return
        if key in self._seen:
            self.skipped.append(SkippedFile(Path(folder), "duplicate",
                                            f"'{name}' links to a folder that was already scanned"))
            return
        self._seen.add(key)
        listing = list_dir(folder)
        self.skipped += listing.skipped
        for fname, path in listing.files:
            if _is_image_name(fname):
                self.found.append((path, label, split))
            else:
                self.skipped.append(SkippedFile(Path(path), "not-an-image", f"'{fname}' is not an image file"))
        for _, path in listing.dirs:
            self._walk(path, label, split, ancestors + (key,))
        if ancestors == self._above:  # once per class folder, not per nested folder
            self.reporter.emit(Progress("scan", len(self.found), 0, f"Listing files in {name}"))


def _unlabelled(listing: Listing) -> list[SkippedFile]:
    """Images lying beside the class folders belong to no class; other files there
    (a README, a license) are not part of the data and are left alone."""
    return [
        SkippedFile(Path(path), "unlabelled", f"'{name}' is not inside a class folder")
        for name, path in listing.files
        if _is_image_name(name)
    ]


def _label_csvs(listing: Listing) -> list[str]:
    return [path for name, path in listing.files if name.lower().endswith((".csv", ".tsv")) and _csv_columns(path)]


def unwrap(folder: str) -> str:
    """A dropped folder often holds just one folder that holds the real dataset."""
    while True:
        listing = list_dir(folder)
        if len(listing.dirs) != 1 or _unlabelled(listing) or _label_csvs(listing):
            return folder
        name, inner = listing.dirs[0]
        inner_listing = list_dir(inner)
        if name.lower() in SPLIT_ALIASES or not (inner_listing.dirs or _label_csvs(inner_listing)):
            return folder  # a lone split folder, or a lone class folder: not a wrapper
        folder = inner


def find_in_folder(root: str, reporter=None) -> Found:
    data_dir = unwrap(root)
    above = (root, data_dir) if root != data_dir else (root,)
    listing = list_dir(data_dir)
    splits = {SPLIT_ALIASES[n.lower()]: p for n, p in listing.dirs if n.lower() in SPLIT_ALIASES}
    if "train" in splits and (len(splits) > 1 or len(listing.dirs) == 1):
        found = _split_folders(data_dir, listing, splits, reporter, above)
    else:
        csvs = _label_csvs(listing)
        if len(csvs) > 1:
            names = ", ".join(os.path.basename(c) for c in csvs)
            raise DatasetError(f"{data_dir} holds several label files ({names}); drop the one to use")
        if csvs:
            found = read_csv(Path(csvs[0]))
        else:
            walker = Walker(reporter, above)
            for name, path in listing.dirs:
                walker.add_class_folder(path, name, None)
            found = Found("class-folders", Path(data_dir), walker.found, walker.skipped + _unlabelled(listing))
    found.skipped[:0] = listing.skipped
    return found


def _split_folders(data_dir: str, listing: Listing, splits: dict, reporter, above: tuple) -> Found:
    walker = Walker(reporter, above + tuple(splits.values()))
    skipped = _unlabelled(listing)
    warnings = [
        f"Folder '{name}' is not a train/valid/test folder and was not scanned"
        for name, _ in listing.dirs if name.lower() not in SPLIT_ALIASES
    ]
    for split in ("train", "valid", "test"):
        if split not in splits:
            continue
        inner = list_dir(splits[split])
        walker.skipped += inner.skipped
        skipped += _unlabelled(inner)
        for name, path in inner.dirs:
            # Training images may be split further when a valid or test folder is missing.
            walker.add_class_folder(path, name, None if split == "train" else split)
    return Found("split-folders", Path(data_dir), walker.found, walker.skipped + skipped, warnings)


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    return next((c for c in columns if c.strip().lower() in names), None)


def _dialect(path: Path, sample: str):
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel


def _csv_columns(path: str) -> tuple[str, str, str | None] | None:
    """(file column, label column, split column or None) when `path` is a label file."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            sample = f.read(8192)
        header = next(csv.reader([sample.splitlines()[0]], _dialect(Path(path), sample)))
    except (OSError, UnicodeDecodeError, IndexError, StopIteration, csv.Error):
        return None
    file_col, label_col = _pick(header, FILE_COLUMNS), _pick(header, LABEL_COLUMNS)
    if file_col is None or label_col is None:
        return None
    return file_col, label_col, _pick(header, SPLIT_COLUMNS)


def read_csv(path: Path) -> Found:
    """Rows of `file,label` (optionally `split`); files are relative to the CSV's folder."""
    columns = _csv_columns(str(path))
    if columns is None:
        raise DatasetError(f"{path} is not a label file: it needs a header row with 'file' and 'label' columns")
    file_col, label_col, split_col = columns
    found = Found("csv", path.parent)
    seen: set[str] = set()
    with open(path, newline="", encoding="utf-8-sig") as f:
        sample = f.read(8192)
        f.seek(0)
        for line, row in enumerate(csv.DictReader(f, dialect=_dialect(path, sample)), start=2):
            _csv_row(path, line, row, (file_col, label_col, split_col), seen, found)
    return found


def _csv_row(csv_path: Path, line: int, row: dict, columns, seen: set, found: Found) -> None:
    file_col, label_col, split_col = columns
    where = f"{csv_path.name} line {line}"
    name = (row.get(file_col) or "").strip().replace("\\", "/")
    label = (row.get(label_col) or "").strip()
    if not name:
        found.warnings.append(f"{where} has no file name and was ignored")
        return
    path = os.path.normpath(os.path.join(csv_path.parent, name))
    if not label:
        found.skipped.append(SkippedFile(Path(path), "no-label", f"{where}: '{name}' has no label"))
        return
    if path in seen:
        found.skipped.append(SkippedFile(Path(path), "duplicate", f"{where}: '{name}' is listed more than once"))
        return
    seen.add(path)
    if not os.path.exists(path):
        reason = "broken-symlink" if os.path.islink(path) else "missing"
        found.skipped.append(SkippedFile(Path(path), reason, f"{where}: '{name}' does not exist"))
        return
    split = SPLIT_ALIASES.get((row.get(split_col) or "").strip().lower()) if split_col else None
    found.candidates.append((path, label, None if split == "train" else split))
