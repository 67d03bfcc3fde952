"""The open project and its current run: the part of the window's state that lives on disk.

AppState holds one (`state.project`). `project` is the core `Project` as last
read or saved (None: no project open), `run` the number of the run whose model
and results the pages show (None: none of the project's). `saved_pages` is
what project.json holds, so the window can tell whether choices changed
since the last save.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal


class ProjectState(QObject):
    changed = Signal(object)  # core Project | None
    run_changed = Signal(object)  # int | None

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.project = None
        self.run: int | None = None
        self.saved_pages: dict | None = None

    @property
    def root(self) -> Path | None:
        return None if self.project is None else Path(self.project.root)

    def set_project(self, project, run: int | None = None) -> None:
        """A project opened, created or saved elsewhere (None: closed)."""
        self.project = project
        self.saved_pages = None if project is None else dict(project.pages)
        self.run = run
        self.changed.emit(project)
        self.run_changed.emit(run)

    def saved(self, project) -> None:
        """`project` was just written: its pages are what disk holds now."""
        self.project = project
        self.saved_pages = dict(project.pages)
        self.changed.emit(project)

    def set_run(self, run: int | None) -> None:
        if run != self.run:
            self.run = run
            self.run_changed.emit(run)

    def run_folder(self) -> Path | None:
        if self.project is None or self.run is None:
            return None
        from tlstudio.core.project.layout import run_dir

        return run_dir(self.root, self.run)
