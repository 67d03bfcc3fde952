"""The window's projects: new, open, save, save as, reopen every page, recover an unfinished run.

Project files are JSON read and written here, in the window's process, through
core/project (no torch); bringing back a run's model, history and evaluation
is a job in the engine process (`RestoreRunJob`), and so is every run: while
a project is open the Train page trains into it (`ProjectTrain`, checkpointed
every epoch) and a recovered run resumes there (`ProjectResume`). A model trained
with no project open is saved as the new project's next run by `SaveRunJob`, which
the GUI thread never waits on: a close that asked to save waits for it instead.

Questions go through hooks the tests replace: `confirm_discard(what, reasons)`
-> "save" | "discard" | "cancel", `choose_new_project()` and
`choose_project()` -> a path or None, `ask_dataset_location(message)` -> a
path or None, `offer_resume(record)` -> bool.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox

from tlstudio.core.errors import UserFacingError
from tlstudio.core.jobs.project import ProjectResume, ProjectTrain, RestoreRunJob
from tlstudio.core.jobs.training import StartFromModel
from tlstudio.core.project.dataset_ref import DatasetMovedError, ScanSettings, dataset_ref
from tlstudio.core.project.layout import PROJECT_FILE, ProjectError, project_dir, run_dir
from tlstudio.core.project.project_file import (
    create_project,
    open_dataset,
    open_project,
    relocate_dataset,
    save_project_as,
    set_pages,
)
from tlstudio.core.project.runs import last_unfinished, list_runs
from tlstudio.core.printable import printable
from tlstudio.qt import settings
from tlstudio.qt.engine import engine_task
from tlstudio.qt.pages.train_page import train_task
from tlstudio.qt.project_pages import (
    apply_export_page,
    apply_pages,
    changed_since_save,
    collect_pages,
    show_run_history,
)
from tlstudio.qt.run_saver import RunSaver
from tlstudio.qt.workers import TaskSlot


def _open_dataset(project, location, reporter):
    """Worker thread: the project's dataset scanned and checked; a moved one comes back as
    the DatasetMovedError itself, so the window can ask where it went."""
    try:
        if location is None:
            return open_dataset(project, reporter)
        return relocate_dataset(project, location, reporter)
    except DatasetMovedError as exc:
        return exc


class ProjectController(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.projects = window.state.project
        self.slot = TaskSlot(self)  # one open or restore at a time
        self.saver = RunSaver(self)  # the trained model, saved as a run of the project
        self.confirm_discard = self._ask_discard
        self.choose_new_project = self._dialog_new_project
        self.choose_project = self._dialog_open_project
        self.ask_dataset_location = self._dialog_dataset_location
        self.offer_resume = self._ask_resume
        self._model_in_project = False  # the trained model is a run of a project, on disk
        self._taking_dataset = False  # the dataset changing is the project's own
        self._restoring = False
        self._resumed: int | None = None  # the run a resume continues
        self._page_after_restore: str | None = None  # the page a run chosen in the Runs panel opens on
        self._plain_train = window.pages["train"].task_fn
        window.pages["data"].may_replace_dataset = lambda: self.may_discard("open another dataset")
        window.pages["train"].may_start = self._may_start_run
        self.state.training_changed.connect(self._training_changed)
        self.state.dataset_changed.connect(self._dataset_changed)
        window.pages["model"].start_from_changed.connect(lambda _path: self.refresh_train_target())

    # -- unsaved work ---------------------------------------------------------------
    def unsaved(self) -> list[str]:
        """What would be lost now, one phrase each."""
        reasons = []
        if self.state.training is not None and not self._model_in_project:
            reasons.append("the trained model is in no project")
        if self.projects.project is not None and changed_since_save(self.window):
            reasons.append(f"the choices in project {printable(self.projects.project.name)} changed since it was saved")
        return reasons

    def may_discard(self, what: str) -> bool:
        """True when `what` may go ahead: nothing unsaved, or the user saved or discarded it."""
        reasons = self.unsaved()
        if not reasons:
            return True
        answer = self.confirm_discard(what, reasons)
        if answer == "save":
            return self._saved_now(what)
        return answer == "discard"

    def _saved_now(self, what: str) -> bool:
        return self.saver.saved_now(what)

    def is_saving(self) -> bool:
        return self.saver.is_saving()

    def close_when_saved(self) -> None:
        self.saver.close_when_saved()

    def _may_start_run(self) -> bool:
        return self._may_replace_model("start a new run")

    # -- new, save, save as -------------------------------------------------------
    def scan_settings(self) -> ScanSettings:
        """How the open dataset was scanned, so reopening splits it the same way."""
        valid_pct, seed = self.window.pages["data"].scanned_with
        return ScanSettings(valid_pct=valid_pct, seed=seed)

    def new_project(self) -> bool:
        """A project for the open dataset and the choices made so far."""
        if self.state.dataset is None:
            self.state.status_message.emit("Open a dataset first: a project keeps a dataset and the work on it.")
            return False
        path = self.choose_new_project()
        if not path:
            return False
        if not self._guard(lambda: self._became(create_project(project_dir(path), self.state.dataset,
                                                                   self.scan_settings(), self._pages()))):
            return False
        self.saver.save_model()
        return True

    def save(self) -> bool:
        """Save the project (a new one when none is open); a trained model in no project
        becomes its next run, written by a job in the engine process."""
        project = self.projects.project
        if project is None:
            return self.new_project()
        if not self._guard(lambda: self._saved(set_pages(project, self._pages()))):
            return False
        self.saver.save_model()
        return True

    def save_as(self) -> bool:
        project = self.projects.project
        if project is None:
            return self.new_project()
        path = self.choose_new_project()
        if not path:
            return False

        def copy():
            copied = save_project_as(project, project_dir(path))
            self._became(set_pages(copied, self._pages()), run=self.projects.run)
        return self._guard(copy)

    def _pages(self) -> dict:
        return collect_pages(self.window)

    def _guard(self, action) -> bool:
        try:
            action()
        except (UserFacingError, OSError) as exc:
            self.state.status_message.emit(f"Project not saved: {exc}")
            return False
        return True

    def _saved(self, project) -> None:
        self.projects.saved(project)
        settings.add_recent_project(project.root)
        self.state.status_message.emit(f"Saved project {project.root}")

    def _became(self, project, run=None) -> None:
        """`project` (new or a copy) is now the open one, saved."""
        self.projects.set_project(project, run)
        self._use_project_runs(project)
        self._saved(project)

    def _use_project_runs(self, project) -> None:
        """While a project is open, the Train page's runs go into it; with or without one, they
        start from the Model page's own model when one is chosen."""
        train, start = self.window.pages["train"], self._start_from()
        if project is not None:
            train.task_fn = functools.partial(train_task, target=ProjectTrain(str(project.root), project.dataset.scan,
                                                                              start))
        elif start is not None:
            train.task_fn = functools.partial(train_task, target=StartFromModel(start))
        else:
            train.task_fn = self._plain_train
        train.set_start_from(self.window.pages["model"].start_label())
        self.window.pages["lr"].start_from = start

    def refresh_train_target(self) -> None:
        """The model to start from changed: the next run starts from it."""
        self._use_project_runs(self.projects.project)

    def _start_from(self) -> str | None:
        return getattr(self.window.pages["model"], "start_from", None)

    # -- open ---------------------------------------------------------------------
    def open_project_dialog(self) -> None:
        path = self.choose_project()
        if path:
            self.open_project(path)

    def open_project(self, path) -> bool:
        """Open the project at `path`: its dataset is scanned again (off the GUI thread), then
        every page is set as it was saved and its current run is brought back."""
        if self.slot.is_running() or not self.may_discard("open another project"):
            return False
        path = Path(path)
        root = path if (path / PROJECT_FILE).is_file() else project_dir(path)
        try:
            project = open_project(root)
        except ProjectError as exc:
            self.state.status_message.emit(str(exc))
            return False
        self._scan(project, None)
        return True

    def is_busy(self) -> bool:
        return self.slot.is_running()

    def _scan(self, project, location) -> None:
        self.state.status_message.emit(f"Opening project {project.root}…")
        self.slot.start(lambda reporter: _open_dataset(project, location, reporter), name="open-project",
                        on_success=lambda found: self._dataset_found(project, found),
                        on_failure=lambda message: self.state.status_message.emit(
                            f"Could not open project {project.root}: {message}"))

    def _dataset_found(self, project, found) -> None:
        if isinstance(found, DatasetMovedError):
            location = self.ask_dataset_location(str(found))
            if location:
                self._scan(project, Path(location))
            else:
                self.state.status_message.emit(f"Project {project.root} not opened: its dataset was not found")
            return
        project, spec = found
        self._taking_dataset = True
        try:
            scan = project.dataset.scan
            self.window.pages["data"].take_dataset(spec, Path(project.dataset.location), (scan.valid_pct, scan.seed))
            self._model_in_project = False
            self.projects.set_project(project)
            apply_pages(self.window, project.pages, project.root / PROJECT_FILE)
        finally:
            self._taking_dataset = False
        self._use_project_runs(project)
        self.projects.saved(project)  # what the pages show now is what disk holds
        settings.add_recent_project(project.root)
        run = self._run_to_show(project)
        if run is not None:
            self._restore(project, spec, run)
        else:
            self._offer_recovery(project)

    def _run_to_show(self, project) -> int | None:
        saved = project.pages.get("run")
        numbers = [r.number for r in list_runs(project.root)]
        if isinstance(saved, int) and saved in numbers:
            return saved
        done = [r.number for r in list_runs(project.root) if (r.folder / "model.tlsmodel").is_file()]
        return done[-1] if done else None

    def show_run(self, number: int, page: str) -> bool:
        """Make run `number` the current run (its model, history and evaluation brought back
        as opening the project does), then show `page`; asks first about an unsaved model."""
        project, spec = self.projects.project, self.state.dataset
        if project is None or spec is None or self.slot.is_running() or self.window.pages["train"].is_training():
            return False
        if self.projects.run == number and self.state.training is not None:
            self.window.show_page(page)
            return True
        if not self._may_replace_model(f"open run {number:03d}"):
            return False
        self._page_after_restore = page
        self._restore(project, spec, number, offer=False)
        return True

    def _may_replace_model(self, what: str) -> bool:
        if self.state.training is None or self._model_in_project:
            return True
        answer = self.confirm_discard(what, ["the trained model is in no project"])
        if answer == "save":
            return self._saved_now(what)
        return answer == "discard"

    def _restore(self, project, spec, number: int, offer: bool = True) -> None:
        self.state.status_message.emit(f"Loading run {number:03d} of {project.name}…")
        self.slot.start(engine_task(RestoreRunJob(run_dir(project.root, number), spec)), name="restore-run",
                        on_success=lambda restored: self._restored(project, spec, restored, offer),
                        on_failure=lambda message: self._restore_failed(project, number, message))

    def _restored(self, project, spec, restored, offer: bool = True) -> None:
        if self.projects.project is not project and self.projects.root != project.root:
            return  # another project was opened meanwhile
        if self.state.dataset is not spec:
            return
        self._restoring = True
        try:
            self.projects.set_run(restored.number)
            show_run_history(self.window.pages["train"], restored.history)
            if restored.trained is not None:
                trained = dataclasses.replace(restored.trained, spec=spec)  # the window's own spec
                self._model_in_project = True
                self.state.set_training(trained, evaluation=restored.evaluation)
                apply_export_page(self.window, project.pages)
        finally:
            self._restoring = False
        self.projects.saved(self.projects.project)
        page, self._page_after_restore = self._page_after_restore, None
        if page is not None:
            self.window.show_page(page)
            self.state.status_message.emit(f"Run {restored.number:03d} of {project.name} is the current run")
            return
        self.state.status_message.emit(f"Opened project {project.root}, run {restored.number:03d}")
        if offer:
            self._offer_recovery(project)

    def _restore_failed(self, project, number: int, message: str) -> None:
        self._page_after_restore = None
        self.state.status_message.emit(f"Run {number:03d} of {project.root} could not be loaded: {message}")
        self._offer_recovery(project)

    # -- recovery -------------------------------------------------------------------
    def _offer_recovery(self, project) -> None:
        record = last_unfinished(project.root)
        if record is None or record.live or self.window.pages["train"].is_training():
            return
        if self.offer_resume(record):
            self.resume(record.number)

    def resume(self, number: int | None = None) -> None:
        """Continue run `number` (None: the last unfinished one) in the engine process."""
        project = self.projects.project
        if project is None:
            return
        self._resumed = number if number is not None else getattr(last_unfinished(project.root), "number", None)
        train = self.window.pages["train"]
        train.start(task_fn=functools.partial(train_task, target=ProjectResume(str(project.root), number)))
        self.window.show_page("train")

    # -- following the state --------------------------------------------------------
    def _training_changed(self, result) -> None:
        if self._restoring or result is None:
            return
        project = self.projects.project
        self._model_in_project = project is not None
        if project is not None:
            runs = list_runs(project.root)
            number = self._resumed if self._resumed is not None else (runs[-1].number if runs else None)
            self.projects.set_run(number)
        self._resumed = None

    def _dataset_changed(self, spec) -> None:
        project = self.projects.project
        if self._taking_dataset or project is None:
            return
        if spec is not None and str(Path(spec.root).resolve()) == project.dataset.location:
            # Split again: the same dataset, its new split recorded on the next save.
            ref = dataset_ref(spec, project.root, self.scan_settings())
            self.projects.project = dataclasses.replace(project, dataset=ref)
            self.projects.set_run(None)
            return
        self.projects.set_project(None)
        self._use_project_runs(None)
        self.state.status_message.emit(f"Project {project.root} closed: another dataset is open")

    # -- the questions, as dialogs ------------------------------------------------
    def _ask_discard(self, what: str, reasons: list[str]) -> str:
        box = QMessageBox(QMessageBox.Icon.Question, "Unsaved work",
                          f"Before you {what}: {'; '.join(reasons)}. Save first?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self.window)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(answer), "cancel")

    def _dialog_new_project(self) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self.window, "New project", settings.dialog_folder("project"),
                                              "TL Studio projects (*.tlsproject)")
        if not path:
            return None
        settings.remember_dialog_folder("project", Path(path).parent)
        return Path(path)

    def _dialog_open_project(self) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open project (a .tlsproject folder)",
                                                  settings.dialog_folder("project"))
        if not folder:
            return None
        settings.remember_dialog_folder("project", Path(folder).parent)
        return Path(folder)

    def _dialog_dataset_location(self, message: str) -> Path | None:
        QMessageBox.information(self.window, "Dataset moved", f"{message}.")
        folder = QFileDialog.getExistingDirectory(self.window, "Where is the project's dataset now?",
                                                  settings.dialog_folder("dataset"))
        return Path(folder) if folder else None

    def _ask_resume(self, record) -> bool:
        answer = QMessageBox.question(
            self.window, "Unfinished run",
            f"Run {record.number:03d} stopped before it finished ({record.state}). "
            "Resume it from its last completed epoch?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes
