"""The dataset's edit list on the Data page: what the next run will train on, "Apply to disk…" and "Undo apply".

Applying moves the files (core/disk_edits.py: relabelled images to their
class's folder, excluded ones into `_removed/`, nothing deleted or
overwritten) after the user confirms, with an undo log in the app's data
folder; the edits the files cannot hold stay in the list, kept for the
dataset as it will be scanned. The last undo log of each dataset is
remembered, so Undo works after a restart too. After either, the dataset is
scanned again (`rescan_requested`).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from tlstudio.core.dataset import disk_edits
from tlstudio.core.dataset import edit_store
from tlstudio.core.errors import UserFacingError
from tlstudio.qt.settings import settings
from tlstudio.qt.workers import TaskSlot


def ask(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def _undo_key(spec) -> str:
    return "edits/undo-log/" + str(Path(spec.root)).replace("/", "|").replace("\\", "|")


class EditsBar(QWidget):
    rescan_requested = Signal()

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.confirm: Callable[[str, str], bool] = lambda title, text: ask(self, title, text)  # tests replace it
        self.slot = TaskSlot(self)
        self.last_result = None
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.apply_button = QPushButton("Apply to disk…")
        self.apply_button.clicked.connect(self.apply)
        self.undo_button = QPushButton("Undo apply to disk")
        self.undo_button.setToolTip("Move the files the last “Apply to disk” moved back where they were")
        self.undo_button.clicked.connect(self.undo)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.apply_button)
        row.addWidget(self.undo_button)
        state.dataset_changed.connect(self.refresh)
        state.edits_changed.connect(self.refresh)
        self.refresh()

    def undo_log(self) -> Path | None:
        """The last undo log of the open dataset, while it can still be undone."""
        spec = self.state.dataset
        value = settings().value(_undo_key(spec)) if spec is not None else None
        if not value:
            return None
        try:
            return None if disk_edits.read_log(value).get("undone") else Path(value)
        except UserFacingError:
            return None

    def refresh(self, *_args) -> None:
        spec, edits = self.state.dataset, self.state.edits
        busy = self.slot.is_running()
        self.setVisible(spec is not None)
        if spec is None:
            return
        n = len(edits)
        self.label.setText(f"Edits for the next training run: {edits.describe()} (the files are unchanged)"
                           if n else "No edits: the next run trains on the files as they are.")
        try:
            disk_edits.check_layout(spec)
            why = ""
        except UserFacingError as exc:
            why = str(exc)
        self.apply_button.setEnabled(bool(n) and not why and not busy)
        self.apply_button.setToolTip(why or "Move the files as the edits say: relabelled images to their class's "
                                     "folder, excluded ones into _removed/; nothing is deleted, Undo moves them back")
        self.undo_button.setVisible(self.undo_log() is not None)
        self.undo_button.setEnabled(not busy)

    def apply(self) -> None:
        spec, edits = self.state.dataset, copy.deepcopy(self.state.edits)  # edits made meanwhile stay edits
        if spec is None or not len(edits) or self.slot.is_running():
            return
        try:
            planned = disk_edits.plan(spec, edits)
        except UserFacingError as exc:
            self.state.status_message.emit(str(exc))
            return
        removed = sum(1 for m in planned.moves if m.target.is_relative_to(planned.base / disk_edits.REMOVED_FOLDER))
        text = (f"Move {len(planned.moves)} files in {planned.base}?\n\n"
                f"{len(planned.moves) - removed} go to another class or split folder, {removed} into "
                f"{disk_edits.REMOVED_FOLDER}/. Nothing is deleted or overwritten, and “Undo apply to disk” "
                "moves them back.")
        if len(planned.kept):
            text += f"\n\n{len(planned.kept)} edits cannot be done to the files ({planned.kept.describe()}); they stay edits."
        if not planned.moves:
            self.state.status_message.emit(f"Nothing to move: the edits ({planned.kept.describe()}) cannot be done "
                                           "to the files; they stay edits for the next run")
            return
        if not self.confirm("Apply the edits to the files", text):
            return
        log = disk_edits.default_log_path(spec)

        def work(reporter):
            result = disk_edits.apply_to_disk(spec, edits, log, reporter)
            edit_store.save_edits(disk_edits.applied_spec(spec, result), result.plan.kept)  # what the next scan finds
            return result

        settings().setValue(_undo_key(spec), str(log))  # before any file moves: the log exists from the start
        self._run(work, self._applied)

    def _applied(self, result) -> None:
        self.last_result = result
        what = f"Moved {len(result.moved)} files; undo log {result.log}"
        if result.failed:
            what += f"; {len(result.failed)} could not be moved (first: {result.failed[0]})"
        self.state.status_message.emit(what)
        self.rescan_requested.emit()

    def undo(self) -> None:
        log = self.undo_log()
        if log is None or self.slot.is_running():
            return
        if not self.confirm("Undo apply to disk", f"Move the files back as {log} says?"):
            return
        self._run(lambda reporter: disk_edits.undo(log, reporter), self._undone)

    def _undone(self, result) -> None:
        self.last_result = result
        what = f"Moved {result.restored} files back"
        if result.problems:
            what += f"; {len(result.problems)} left as they are (first: {result.problems[0]})"
        self.state.status_message.emit(what)
        self.rescan_requested.emit()

    def _run(self, work, done) -> None:
        self.slot.start(work, name="edit files", on_success=lambda r: (done(r), self.refresh()),
                        on_failure=lambda message: (self.state.status_message.emit(message), self.refresh()))
        self.refresh()

    def is_running(self) -> bool:
        return self.slot.is_running()

    def shutdown(self) -> None:
        self.slot.stop_and_wait()
