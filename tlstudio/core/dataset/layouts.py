"""Find the files of a dataset and their labels: class folders, split folders or a CSV.

Folders are listed and walked by `dataset_folders`; this module decides the
layout, reads label CSVs and reads names only: whether each file is a usable
image is decided afterwards by `image_check`.
"""
from __future__ import annotations

import codecs
import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from tlstudio.core.dataset.folders import Candidate, Listing, Walker, is_image_name, list_dir
from tlstudio.core.dataset.spec import DatasetError, SkippedFile

SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "valid": "valid", "val": "valid", "validation": "valid", "dev": "valid",
    "test": "test", "testing": "test",
}
FILE_COLUMNS = ("file", "filename", "file_name", "path", "image", "fname")
LABEL_COLUMNS = ("label", "class", "category")
SPLIT_COLUMNS = ("split", "set", "subset")


@dataclass
class Found:
    """What a layout yields before the images themselves are checked."""

    layout: str
    data_dir: Path
    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _unlabelled(listing: Listing) -> list[SkippedFile]:
    """Images lying beside the class folders belong to no class; other files there
    (a README, a license) are not part of the data and are left alone."""
    return [
        SkippedFile(Path(path), "unlabelled", f"'{name}' is not inside a class folder")
        for name, path in listing.files
        if is_image_name(name)
    ]


def _label_csvs(listing: Listing, warnings: list[str] | None = None) -> list[str]:
    """The label files among a folder's files; a CSV that cannot be decoded is
    named in `warnings` rather than silently taken for something else."""
    found = []
    for name, path in listing.files:
        if not name.lower().endswith((".csv", ".tsv")):
            continue
        try:
            if _csv_columns(path):
                found.append(path)
        except DatasetError as exc:
            if warnings is not None:
                warnings.append(f"{exc}; it was not read as a label file")
    return found


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


def find_in_folder(root: str, reporter=None, *, allow_outside: bool = False) -> Found:
    """`allow_outside`: a CSV found here may name files outside `root`."""
    data_dir = unwrap(root)
    above = (root, data_dir) if root != data_dir else (root,)
    listing = list_dir(data_dir)
    splits = {SPLIT_ALIASES[n.lower()]: p for n, p in listing.dirs if n.lower() in SPLIT_ALIASES}
    csv_warnings: list[str] = []
    if "train" in splits and (len(splits) > 1 or len(listing.dirs) == 1):
        found = _split_folders(data_dir, listing, splits, reporter, above)
    else:
        csvs = _label_csvs(listing, csv_warnings)
        if len(csvs) > 1:
            names = ", ".join(os.path.basename(c) for c in csvs)
            raise DatasetError(f"{data_dir} holds several label files ({names}); drop the one to use")
        if csvs:
            found = read_csv(Path(csvs[0]), base=Path(root), allow_outside=allow_outside)
        else:
            walker = Walker(reporter, above, data_dir)
            for name, path in listing.dirs:
                walker.add_class_folder(path, name, None)
            unlabelled = _unlabelled(listing)
            if not walker.found and unlabelled:
                raise DatasetError(
                    f"No class folders found in {data_dir}: its {len(unlabelled)} images lie directly in it. "
                    "Put each class's images in a subfolder named for the class (e.g. cats/ and dogs/)")
            found = Found("class-folders", Path(data_dir), walker.found, walker.skipped + unlabelled,
                          walker.warnings + walker.merge_warning())
    found.skipped[:0] = listing.skipped
    found.warnings[:0] = csv_warnings
    return found


def _split_folders(data_dir: str, listing: Listing, splits: dict, reporter, above: tuple) -> Found:
    walker = Walker(reporter, above + tuple(splits.values()), data_dir)
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
    return Found("split-folders", Path(data_dir), walker.found, walker.skipped + skipped,
                 warnings + walker.warnings + walker.merge_warning())


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    return next((c for c in columns if c.strip().lower() in names), None)


def _dialect(path: Path, sample: str):
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel


_SAMPLE = 8192  # bytes read to find a CSV's header and dialect


def _decode(path, data: bytes, final: bool = True) -> str:
    """A CSV's text: UTF-8 (with or without a BOM), or UTF-16 with a BOM.
    Anything else is one clear DatasetError naming the line, not a guess."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in data[:_SAMPLE]:
        raise DatasetError(f"{path} is not UTF-8 text (it looks like UTF-16 without a byte-order mark); "
                           "save it as UTF-8")
    else:
        encoding = "utf-8-sig"
    try:
        return codecs.getincrementaldecoder(encoding)().decode(data, final)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DatasetError(f"{path} is not UTF-8 text: line {line} holds the byte 0x{data[exc.start]:02x} "
                           "(perhaps Latin-1 or Windows-1252); save it as UTF-8") from None


def _csv_columns(path: str) -> tuple[str, str, str | None] | None:
    """(file column, label column, split column or None) when `path` is a label file."""
    try:
        with open(path, "rb") as f:
            head = f.read(_SAMPLE)
    except OSError:
        return None
    sample = _decode(path, head, final=False)
    try:
        header = next(csv.reader([sample.splitlines()[0]], _dialect(Path(path), sample)))
    except (IndexError, StopIteration, csv.Error):
        return None
    file_col, label_col = _pick(header, FILE_COLUMNS), _pick(header, LABEL_COLUMNS)
    if file_col is None or label_col is None:
        return None
    return file_col, label_col, _pick(header, SPLIT_COLUMNS)


def read_csv(path: Path, *, base: Path | None = None, allow_outside: bool = False) -> Found:
    """Rows of `file,label` (optionally `split`); files are relative to the CSV's folder.

    A file must lie inside `base` (the CSV's folder unless given: the dropped
    folder, or the zip's extraction folder); others are skipped unread, so a
    CSV cannot make the scan reveal or train on files elsewhere, unless
    `allow_outside` says the user wrote the CSV and means it."""
    columns = _csv_columns(str(path))
    if columns is None:
        raise DatasetError(f"{path} is not a label file: it needs a header row with 'file' and 'label' columns")
    try:
        text = _decode(path, path.read_bytes())
    except OSError as exc:
        raise DatasetError(f"Cannot read {path}: {exc.strerror or exc}") from None
    found = Found("csv", path.parent)
    rows = _Rows(path, columns, base or path.parent, allow_outside, found)
    for line, row in enumerate(csv.DictReader(io.StringIO(text, newline=""), dialect=_dialect(path, text[:_SAMPLE])),
                               start=2):
        rows.add(line, row)
    return found


def _inside(path: str, base: str) -> bool:
    try:
        return os.path.commonpath([path, base]) == base
    except ValueError:  # another drive on Windows
        return False


@dataclass
class _Rows:
    csv_path: Path
    columns: tuple
    base: Path
    allow_outside: bool
    found: Found
    seen: set = field(default_factory=set)

    def add(self, line: int, row: dict) -> None:
        file_col, label_col, split_col = self.columns
        found = self.found
        where = f"{self.csv_path.name} line {line}"
        name = (row.get(file_col) or "").strip().replace("\\", "/")
        label = (row.get(label_col) or "").strip()
        if not name:
            found.warnings.append(f"{where} has no file name and was ignored")
            return
        path = os.path.normpath(os.path.join(self.csv_path.parent, name))
        if not self.allow_outside and not _inside(path, os.path.normpath(self.base)):
            # Decided on the name alone: whether such a file exists is never looked up.
            found.skipped.append(SkippedFile(Path(path), "outside-dataset",
                                             f"{where}: '{name}' lies outside the dataset folder and was not read"))
            return
        if not label:
            found.skipped.append(SkippedFile(Path(path), "no-label", f"{where}: '{name}' has no label"))
            return
        if path in self.seen:
            found.skipped.append(SkippedFile(Path(path), "duplicate", f"{where}: '{name}' is listed more than once"))
            return
        self.seen.add(path)
        if not os.path.exists(path):
            reason = "broken-symlink" if os.path.islink(path) else "missing"
            found.skipped.append(SkippedFile(Path(path), reason, f"{where}: '{name}' does not exist"))
            return
        split = SPLIT_ALIASES.get((row.get(split_col) or "").strip().lower()) if split_col else None
        found.candidates.append((path, label, None if split == "train" else split))
