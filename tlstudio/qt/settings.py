"""What the app remembers between runs: window geometry, recent datasets and projects, the model files added as starting points, and the folders file dialogs last used (QSettings).

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


def _recent(key: str) -> list[str]:
    value = settings().value(key, [])
    if isinstance(value, str):  # QSettings hands back a one-item list as a plain string
        value = [value]
    return [str(v) for v in value or [] if v]


def _add_recent(key: str, path: str | Path) -> list[str]:
    path = str(Path(path).resolve())
    recent = ([path] + [p for p in _recent(key) if p != path])[:MAX_RECENT]
    settings().setValue(key, recent)
    return recent


def _forget_recent(key: str, path: str | Path) -> list[str]:
    recent = [p for p in _recent(key) if p != str(path)]
    settings().setValue(key, recent)
    return recent


def recent_datasets() -> list[str]:
    return _recent("recent/datasets")


def add_recent_dataset(path: str | Path) -> list[str]:
    return _add_recent("recent/datasets", path)


def forget_recent_dataset(path: str | Path) -> list[str]:
    return _forget_recent("recent/datasets", path)


def recent_projects() -> list[str]:
    """Project folders (NAME.tlsproject) opened or saved, newest first."""
    return _recent("recent/projects")


def add_recent_project(path: str | Path) -> list[str]:
    return _add_recent("recent/projects", path)


def forget_recent_project(path: str | Path) -> list[str]:
    return _forget_recent("recent/projects", path)


def own_model_files() -> list[str]:
    """The .tlsmodel files added to the Model page's "Your models", newest first."""
    return _recent("models/files")


def add_own_model_file(path: str | Path) -> list[str]:
    return _add_recent("models/files", path)


def forget_own_model_file(path: str | Path) -> list[str]:
    return _forget_recent("models/files", path)


def save_window(geometry: QByteArray, window_state: QByteArray) -> None:
    s = settings()
    s.setValue("window/geometry", geometry)
    s.setValue("window/state", window_state)


def window_geometry() -> tuple[QByteArray | None, QByteArray | None]:
    s = settings()
    geometry = s.value("window/geometry")
    state = s.value("window/state")
    return (geometry if isinstance(geometry, QByteArray) else None, state if isinstance(state, QByteArray) else None)


def dialog_folder(kind: str) -> str:
    """Where a file dialog of this `kind` ("dataset", "weights", "report") opens:
    the folder last used for it, else the user's home (never the app's own folder)."""
    folder = settings().value(f"dialogs/{kind}")
    if folder and Path(str(folder)).is_dir():
        return str(folder)
    return str(Path.home())


def remember_dialog_folder(kind: str, chosen: str | Path) -> None:
    """`chosen` is the file or folder picked; the next dialog of this kind opens where it lies."""
    path = Path(chosen)
    settings().setValue(f"dialogs/{kind}", str(path if path.is_dir() else path.parent))
