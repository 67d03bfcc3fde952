"""The app's own folders on this machine."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def data_dir() -> Path:
    """The app's per-user data folder; `TLSTUDIO_DATA_DIR` overrides it (tests use that)."""
    if os.environ.get("TLSTUDIO_DATA_DIR"):
        return Path(os.environ["TLSTUDIO_DATA_DIR"])
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "tlstudio"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "tlstudio"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "tlstudio"


def resources_dir() -> Path:
    """The files the app ships with (icons, the demo dataset): `resources/` beside the
    `tlstudio` package, in a source checkout and inside the installed (frozen) app alike."""
    return Path(__file__).resolve().parents[2] / "resources"
