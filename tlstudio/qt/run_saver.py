"""Saving the window's trained model, made with no project open, as the next run of the project.

`SaveRunJob` writes the run in the engine process, which holds the model; the GUI
thread never waits on it. What asked to save before it may go on (closing, opening
another dataset, a new run) waits: a close closes again once the run has landed and
stays open if it fails; anything else says so and is left for the user to redo.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from tlstudio.core.jobs.project import SaveRunJob
from tlstudio.core.printable import printable
from tlstudio.core.project.project_file import set_pages
from tlstudio.qt.engine import engine_task
from tlstudio.qt.workers import TaskSlot


class RunSaver(QObject):
    def __init__(self, controller):
        super().__init__(controller)
        self.controller = controller
        self.state = controller.state
        self.slot = TaskSlot(self)
        self._close_when_saved = False
        # Not the slot's thread: the outcome's handler may run before that thread has ended, and
        # the close it makes must find the save over (a window that never closed, seen in a test).
        self._saving = False

    def is_saving(self) -> bool:
        return self._saving

    def saved_now(self, what: str) -> bool:
        """Save; True once nothing is left to lose. While the model is still being written,
        `what` must wait."""
        if not self.controller.save():
            return False
        if self.is_saving():
            self.state.status_message.emit(f"Saving the trained model into the project; {what} once it is saved")
            return False
        return True

    def close_when_saved(self) -> None:
        self._close_when_saved = True
        self.state.status_message.emit("The window closes once the trained model is saved…")

    def cancel(self) -> None:
        self.slot.cancel()
        self._saving = False

    def _model_to_save(self):
        c = self.controller
        trained = self.state.training
        if (trained is None or c._model_in_project or c.projects.project is None
                or c.window.pages["train"].is_training() or trained.kept_epoch is None):
            return None
        return trained

    def save_model(self) -> None:
        """Start saving the trained model into the open project, if it is in none."""
        trained = self._model_to_save()
        if trained is None or self.is_saving():
            return
        project = self.controller.projects.project
        job = SaveRunJob(str(project.root), trained.model.id, self._evaluation_of(trained))
        self.state.status_message.emit(f"Saving the trained model into project {printable(project.name)}…")
        self._saving = True
        self.slot.start(engine_task(job), name="save-run",
                        on_success=lambda saved: self._saved(project.root, trained, saved),
                        on_failure=lambda message: self._not_saved(project.root, message),
                        on_cancel=lambda: self._not_saved(project.root, "cancelled"))

    def _evaluation_of(self, trained):
        """The window's evaluation of `trained` on the validation split, if it has one."""
        shown = self.controller.window.pages["evaluate"].interpretation
        for interp in (shown, self.state.stored_evaluation):
            if interp is not None and interp.split == "valid" and list(interp.classes) == list(trained.model.classes):
                return interp
        return None

    def _saved(self, root, trained, saved) -> None:
        self._saving = False
        c = self.controller
        project = c.projects.project
        if project is not None and Path(project.root) == Path(root) and self.state.training is trained:
            c._model_in_project = True
            c.projects.set_run(saved.number)
            c._guard(lambda: c.projects.saved(set_pages(project, c._pages())))  # project.json names its run
        self.state.status_message.emit(f"Saved the trained model as run {saved.number:03d} of project {root}")
        if self._close_when_saved:
            self._close_when_saved = False
            c.window.close()

    def _not_saved(self, root, message: str) -> None:
        self._saving = False
        stays = "; the window stays open" if self._close_when_saved else ""
        self._close_when_saved = False
        self.state.status_message.emit(f"The trained model was not saved into project {root}: {message}{stays}")
