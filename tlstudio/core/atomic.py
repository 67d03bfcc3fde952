"""Atomic file writes: a temp file beside the target, then `os.replace`."""
from __future__ import annotations

import os
import uuid
from pathlib import Path


def atomic_write_text(path, text: str, newline: str | None = None) -> None:
    path = Path(path)
    # A fresh name rather than mkstemp: the file gets the user's usual
    # permissions instead of mkstemp's private 0600.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline=newline)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
