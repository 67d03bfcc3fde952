"""The sha256 of a file, read in blocks; `on_block(done, total)` lets a caller show progress or cancel.

The standalone `predict.py` written beside exports keeps its own copy: it must run where
tlstudio is not installed."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

BLOCK = 1 << 20


def sha256_file(path, on_block: Callable[[int, int], None] | None = None) -> str:
    path = Path(path)
    digest = hashlib.sha256()
    total = path.stat().st_size if on_block else 0
    done = 0
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            digest.update(block)
            done += len(block)
            if on_block is not None:
                on_block(done, total)
    return digest.hexdigest()
