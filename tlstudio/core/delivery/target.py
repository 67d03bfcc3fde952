"""Where an export goes: checked before any work, locked while written, moved into place as one unit.

`check_target` runs before training (CLI `--export`) and again at export: a
target that exists (without overwrite), a folder that cannot be written or a
disk without room is an `ExportTargetError` naming the problem and offering
another path. While an export runs it holds `<target>.lock` (created with
O_EXCL, holding the writer's pid; a lock whose process is gone is stale and
taken over). Files are written into a staging folder beside the target and,
once verified, each moved into place with `os.replace`, the model last.
"""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from pathlib import Path

from tlstudio.core.delivery.model_meta import ModelFileError, format_of
from tlstudio.core.app_dirs import data_dir
from tlstudio.core.pid_lock import pid_lock

SPACE_MARGIN = 1.2  # the model file plus a fifth: sidecar, predict.py, a zip's directory
MIN_FREE = 8 << 20


class ExportTargetError(ModelFileError):
    """The chosen file cannot be written; `suggestion` is a path that can."""

    def __init__(self, message: str, suggestion: Path | None = None):
        super().__init__(message + (f"; you could export to {suggestion} instead" if suggestion else ""))
        self.suggestion = suggestion


def models_folder() -> Path:
    """Where a model goes when the user's choice failed: the app's data folder."""
    return data_dir() / "models"


def estimated_bytes(n_params: int) -> int:
    """Bytes a model file of `n_params` float32 parameters needs on disk, with room to spare."""
    return int(n_params * 4 * SPACE_MARGIN) + (1 << 20)


def _existing_ancestor(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _writable(folder: Path) -> str | None:
    """Why no file can be created in `folder` (or, if it does not exist yet, where it would be made)."""
    base = _existing_ancestor(folder)
    if not base.is_dir():
        return f"{base} is not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=".tlstudio-probe-", dir=base)
    except OSError as exc:
        return f"{base} is not writable ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(probe)
    return None


def another_path(path: Path, needed: int) -> Path | None:
    """Where the model could go instead: the app's data folder, when it is another folder with room."""
    folder = models_folder()
    if folder == path.parent or _writable(folder) or _free(folder) < needed:
        return None
    return folder / path.name


def _free(folder: Path) -> int:
    try:
        return shutil.disk_usage(_existing_ancestor(folder)).free
    except OSError:
        return 0


def check_target(path, *, needed_bytes: int, overwrite: bool) -> Path:
    """`path` as the export will use it, or an ExportTargetError saying why it cannot be."""
    path = Path(path).expanduser()
    format_of(path)
    needed = max(int(needed_bytes), MIN_FREE)
    if path.is_dir():
        raise ExportTargetError(f"{path}: is a folder, not a file name", another_path(path, needed))
    if path.exists() and not overwrite:
        raise ExportTargetError(f"{path}: already exists (choose to replace it, or pass --force)")
    why = _writable(path.parent)
    if why:
        raise ExportTargetError(f"{path}: cannot be written: {why}", another_path(path, needed))
    free = _free(path.parent)
    if free < needed:
        raise ExportTargetError(
            f"{path}: not enough room: the model needs about {needed / 1e6:.0f} MB and "
            f"{_existing_ancestor(path.parent)} has {free / 1e6:.0f} MB free",
            another_path(path, needed),
        )
    return path


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def target_lock(path: Path):
    """Hold `<path>.lock` while exporting to `path`; a second writer gets a clear ExportTargetError."""
    return pid_lock(lock_path(path), lambda pid: ExportTargetError(
        f"{path}: another export is writing this file (process {pid}); try again when it is done"))


@contextlib.contextmanager
def staging_folder(path: Path):
    """A fresh folder beside `path` (same file system, so moving out is a rename); removed afterwards.

    Called under `target_lock(path)`: any other staging folder of this target
    is then left by a writer that was killed, and is removed first."""
    prefix = f".{path.name}.export-"
    for stale in path.parent.glob(f"{glob.escape(prefix)}*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def move_into_place(moves: list[tuple[Path, Path]]) -> None:
    """`os.replace` each (staged, final) pair in order; callers put the model file last,
    so a sidecar (holding the model's sha256) never describes a model it does not match
    without the loader noticing."""
    for staged, final in moves:
        os.replace(staged, final)
