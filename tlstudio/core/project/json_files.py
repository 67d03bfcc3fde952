"""Reading and writing a project's JSON files: atomic writes, one-line errors on read."""
from __future__ import annotations

import json
from pathlib import Path

from tlstudio.core.atomic_files import atomic_write_text
from tlstudio.core.project.layout import ProjectError

# Far above any file of ours (an evaluation of 100,000 images is ~20 MB);
# a larger one is not ours, and reading it would only fill memory.
MAX_JSON_BYTES = 256 << 20


def write_json(path: Path, data) -> None:
    atomic_write_text(Path(path), json.dumps(data, indent=1) + "\n")


def read_json(path: Path, what: str, *, format_name: str, max_version: int) -> dict:
    """The object in `path`, which must be a `format_name` file of a version
    this code reads; a ProjectError naming the file otherwise."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise ProjectError(f"{path}: too large to be a project's {what} ({size / 1e6:.0f} MB)")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(f"{path}: missing (the project's {what})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectError(f"{path}: the project's {what} is not readable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != format_name:
        raise ProjectError(f"{path}: not a TL Studio {what}")
    version = data.get("format_version")
    if not isinstance(version, int) or version > max_version:
        raise ProjectError(f"{path}: written by a newer TL Studio (format version {version}); update TL Studio to open it")
    return data
