"""One stable name for a dataset's content and split, the same on any machine."""
from __future__ import annotations

import hashlib
from pathlib import Path


def dataset_fingerprint(spec) -> str:
    """sha256 over the sorted (relative path, size, label, split) of every item:
    the same folder gives the same fingerprint on any machine."""
    base = Path(spec.root)
    base = base if base.is_dir() else base.parent
    rows = []
    for item, label, split in zip(spec.items, spec.labels, spec.splits):
        item = Path(item)
        try:
            rel = item.relative_to(base).as_posix()
        except ValueError:
            rel = item.as_posix()
        size = item.stat().st_size if item.exists() else -1
        rows.append(f"{rel}\t{size}\t{label}\t{split}")
    return hashlib.sha256("\n".join(sorted(rows)).encode("utf-8")).hexdigest()
