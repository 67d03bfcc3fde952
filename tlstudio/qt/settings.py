"""What the app remembers between runs: window geometry and recent datasets (QSettings).

`TLSTUDIO_SETTINGS_DIR` points the settings at a folder of their own (tests use
it so no test ever reads or writes the user's real settings).
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "TL Studio"
APPLICATION = "TL Studio"
MAX_RECENT = 8


def settings() -> QSettings:
    folder = os.environ.get("TLSTUDIO_SETTINGS_DIR")
    if folder:
        return QSettings(str(Path(folder) / "tlstudio.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def recent_datasets() -> list[str]:
    value = settings().value("recent/datasets", [])
    if isinstance(value, str):  # QSettings hands back a one-item list as a plain string
        value = [value]
    return [str(v) for v in value or [] if v]


def add_recent_dataset(path: str | Path) -> list[str]:
    path = str(Path(path).resolve())
    recent = [path] + [p for p in recent_datasets() if p != path]
    recent = recent[:MAX_RECENT]
    settings().setValue("recent/datasets", recent)
    return recent


def forget_recent_dataset(path: str | Path) -> list[str]:
    recent = [p for p in recent_datasets() if p != str(path)]
    settings().setValue("recent/datasets", recent)
    return recent


def save_window(geometry: QByteArray, window_state: QByteArray) -> None:
    s = settings()
    s.setValue("window/geometry", geometry)
    s.setValue("window/state", window_state)


def window_geometry() -> tuple[QByteArray | None, QByteArray | None]:
    s = settings()
    geometry = s.value("window/geometry")
    state = s.value("window/state")
    return (geometry if isinstance(geometry, QByteArray) else None, state if isinstance(state, QByteArray) else None)
