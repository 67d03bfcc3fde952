"""The files this app exported on this machine: the only pickles it opens without asking.

A sidecar beside a `.pkl` proves nothing about where the pickle came from:
whoever sends the pickle can write the sidecar too, sha256 included. So trust
rests on a record the sender cannot reach: the sha256 of every model file this
app wrote, kept in the app's data folder (never beside the file). A pickle
whose digest is not in the record is unpickled only when the user says they
trust it.

The record is a text file, one `sha256<TAB>path<TAB>time` line per export,
appended with a single `write` on an `O_APPEND` descriptor, so two exports
at once cannot interleave their lines.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from tlstudio.core.app_dirs import data_dir  # noqa: F401  (callers import it from here)

RECORD_NAME = "exported-models.tsv"


def record_path() -> Path:
    return data_dir() / RECORD_NAME


def remember_export(digest: str, path) -> None:
    """Add `digest` (the sha256 of a file this app just wrote) to the record."""
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    # Tabs and newlines in a path would forge extra fields or lines.
    where = str(path).replace("\t", " ").replace("\n", " ").replace("\r", " ")
    line = f"{digest}\t{where}\t{stamp}\n".encode("utf-8", "surrogateescape")
    fd = os.open(record_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def exported_here(digest: str) -> bool:
    """True when this app exported a file with this sha256 on this machine."""
    try:
        text = record_path().read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return False
    return any(line.split("\t", 1)[0] == digest for line in text.splitlines())
