"""List a dataset's folders: visible files and sub-folders, links followed once, class folders walked.

Names are read here, nothing else: whether each file is a usable image is
decided afterwards by `image_check`. Hidden files, broken links, unreadable or
too deeply nested folders are recorded as skipped, with a reason.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from tlstudio.core.dataset.image_check import IMAGE_EXTENSIONS
from tlstudio.core.dataset.spec import DatasetError, SkippedFile
from tlstudio.core.events import Cancelled, NullReporter, Progress

SYSTEM_NAMES = frozenset({
    "thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r", "__macosx",
    "$recycle.bin", "system volume information", "@eadir",
})
# Where applying edits to disk puts the images taken out of a dataset (core/disk_edits.py); never scanned.
REMOVED_FOLDER = "_removed"
Candidate = tuple  # (path: str, label: str, split: str | None); None: the random split decides

def is_image_name(name: str) -> bool:
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
    """One folder's visible subfolders and files, sorted by name; links resolved.
    Raises DatasetError when the folder itself cannot be listed."""
    try:
        return _list(folder)
    except PermissionError:
        raise DatasetError(f"Cannot read the folder {folder}: permission denied") from None
    except NotADirectoryError:
        raise DatasetError(f"{folder} is not a folder") from None
    except OSError as exc:
        raise DatasetError(f"Cannot read the folder {folder}: {exc.strerror or exc}") from None


def _list(folder: str) -> Listing:
    with os.scandir(folder) as it:
        entries = sorted(it, key=lambda e: e.name)
    out = Listing([], [], [])
    for e in entries:
        try:
            if is_hidden(e.name):
                out.skipped.append(_hidden(e.path, e.name, e.is_dir()))
            elif e.name == REMOVED_FOLDER and e.is_dir():
                out.skipped.append(SkippedFile(Path(e.path), "hidden",
                                               f"'{e.name}' holds the images taken out of the dataset; it was not scanned"))
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


MAX_DEPTH = 100  # folders below a class folder; deeper ones are skipped, not walked


class Walker:
    """Collects the image candidates under class folders, following links once.

    The walk keeps its own stack rather than recursing, so a folder nested a
    thousand deep is skipped with a reason instead of ending in RecursionError;
    a sub-folder that cannot be read is skipped and the walk goes on."""

    def __init__(self, reporter=None, above: tuple[str, ...] = (), base: str = ""):
        self.reporter = reporter or NullReporter()
        self.found: list[Candidate] = []
        self.skipped: list[SkippedFile] = []
        self.warnings: list[str] = []
        self.merged: dict[str, set[str]] = {}  # label -> sub-folders whose images joined it
        self._seen: set[tuple[int, int]] = set()
        self._above = tuple(_key(os.stat(p)) for p in above)  # folders holding the class folders
        self._base = base  # what folder names in warnings are relative to

    def add_class_folder(self, folder: str, label: str, split: str | None) -> None:
        before = len(self.found)
        stack = [(folder, self._above, 0)]
        while stack:
            path, ancestors, depth = stack.pop()
            subfolders = self._visit(path, label, split, ancestors, depth)
            stack += reversed(subfolders)
        if len(self.found) == before and not any(s.path == Path(folder) for s in self.skipped):
            self.warnings.append(f"Folder '{self._relative(folder)}' holds no images, so it is not a class")
        self.reporter.emit(Progress("scan", len(self.found), 0, f"Listing files in {os.path.basename(folder)}"))

    def _relative(self, folder: str) -> str:
        return os.path.relpath(folder, self._base) if self._base else os.path.basename(folder)

    def _visit(self, folder: str, label: str, split: str | None, ancestors: tuple, depth: int) -> list:
        """Record one folder's images; return its sub-folders to visit."""
        if self.reporter.cancel_requested():
            raise Cancelled()
        name = os.path.basename(folder)
        if depth > MAX_DEPTH:
            self.skipped.append(SkippedFile(Path(folder), "too-deep",
                                            f"'{name}' is nested more than {MAX_DEPTH} folders deep; it was not scanned"))
            return []
        try:
            key = _key(os.stat(folder))
            listing = _list(folder)
        except OSError as exc:
            self.skipped.append(SkippedFile(Path(folder), "unreadable",
                                            f"the folder '{name}' cannot be read ({exc.strerror or exc}); "
                                            "it was not scanned"))
            return []
        if key in ancestors:
            self.skipped.append(SkippedFile(Path(folder), "broken-symlink",
                                            f"'{name}' links back to a folder that contains it (a loop)"))
            return []
        if key in self._seen:
            self.skipped.append(SkippedFile(Path(folder), "duplicate",
                                            f"'{name}' links to a folder that was already scanned"))
            return []
        self._seen.add(key)
        self.skipped += listing.skipped
        images = 0
        for fname, path in listing.files:
            if is_image_name(fname):
                self.found.append((path, label, split))
                images += 1
            else:
                self.skipped.append(SkippedFile(Path(path), "not-an-image", f"'{fname}' is not an image file"))
        if images and depth:
            self.merged.setdefault(label, set()).add(self._relative(folder))
        return [(path, ancestors + (key,), depth + 1) for _, path in listing.dirs]

    def merge_warning(self) -> list[str]:
        """One line for all classes whose images came partly from sub-folders."""
        if not self.merged:
            return []
        parts = []
        for label in sorted(self.merged):
            folders = sorted(self.merged[label])
            many = len(folders) > 1
            parts.append(f"'{label}' ({len(folders)} sub-folder{'s' if many else ''}, e.g. {folders[0]})")
        return ["Images in sub-folders were merged into their class: " + ", ".join(parts)]
