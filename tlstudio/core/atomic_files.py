"""Atomic writes: a hidden temp file in the target folder, moved into place with `os.replace`.

A crash or a kill never leaves a half-written file under the user's chosen
name. A SIGKILL can still leave the hidden temp file itself behind, so each
write first removes our own stale ones from that folder: only names of our
exact pattern, and only when older than any write still in progress could be.
"""
from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")  # ".<name>.<12 hex digits>.tmp", as `temp_path` makes them
STALE_S = 15 * 60  # no write of ours takes this long; an older temp file is left from a killed one


def temp_path(path: Path) -> Path:
    # A fresh name rather than mkstemp: the writer creates the file itself, so
    # it gets the user's usual permissions instead of mkstemp's private 0600.
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def remove_stale_temps(folder: Path, older_than_s: float = STALE_S) -> list[Path]:
    """Delete our temp files in `folder` older than `older_than_s`; returns what went."""
    removed = []
    cutoff = time.time() - older_than_s
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        try:
            if (_TEMP_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_mtime < cutoff):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def atomic_write(path: Path, write) -> None:
    """`write(tmp)` creates the file at `tmp`; it then replaces `path` in one step."""
    path = Path(path)
    remove_stale_temps(path.parent)
    tmp = temp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path, text: str, newline: str | None = None) -> None:
    """`atomic_write` of UTF-8 text."""
    atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8", newline=newline))
