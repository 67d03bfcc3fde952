"""The disk the image caches may use: a budget for all of them together, and
the free space a new one must leave.

A cache is a copy, made again whenever it is needed, so making room deletes
the least recently used ones (opening a cache marks it used). A cache that
would not fit even then is not made; the caller says why, in a few words.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from tlstudio.core.dataset.image_cache import SUFFIX

DISK_MARGIN = 1 << 30  # free space a cache must leave on its disk


def why_not(plan, folder: Path, max_gb: float) -> str:
    """"" when the cache exists or can be made within the budget; else why not, in a few words."""
    if (folder / plan.file_name()).exists():
        return ""
    needed, budget = plan.nbytes(), int(max_gb * 1e9)
    if needed > budget:
        return (f"{len(plan.paths)} images at {plan.size} px need {needed / 1e9:.1f} GB, more than the "
                f"{max_gb:g} GB image cache budget (image_cache_max_gb)")
    free = shutil.disk_usage(_existing_parent(folder)).free
    if free < needed + DISK_MARGIN:
        return f"it needs {needed / 1e9:.1f} GB and {folder} has {free / 1e9:.1f} GB free"
    if not make_room(folder, needed, budget, keep=plan.file_name()):
        return f"other image caches in use fill the {max_gb:g} GB budget"
    return ""


def _existing_parent(folder: Path) -> Path:
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def cached_files(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.suffix == SUFFIX and p.is_file()]
    except OSError:
        return []


def make_room(folder: Path, needed: int, budget: int, keep: str) -> bool:
    """Delete the least recently used caches in `folder` (never `keep`) until
    `needed` more bytes fit in `budget`; False when they cannot."""
    if needed > budget:
        return False
    files = sorted((p for p in cached_files(folder) if p.name != keep), key=_mtime)
    used = sum(_bytes(p) for p in files)
    while files and used + needed > budget:
        oldest = files.pop(0)
        used -= _bytes(oldest)
        try:
            oldest.unlink()
        except OSError:  # in use elsewhere (Windows); it stays counted
            used += _bytes(oldest)
    return used + needed <= budget


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _bytes(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
