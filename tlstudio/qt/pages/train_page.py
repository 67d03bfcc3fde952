"""Train page: start and cancel a run, watch it live, keep the result.

The run itself is `core.training.run` in the engine process (a `TrainJob`), so
the window never shares a GIL with training and never holds the model; an
`EngineTask` thread forwards its events, which arrive here as queued signals.
Handlers only record them; a 100 ms timer updates the progress line and,
every third tick, repaints one changed plot, so a fast run cannot flood the
GUI thread.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from tlstudio.core.events import BatchEnd, DeviceSummary, EarlierEpochs, EpochEnd, FitEnd, Message, Progress, StageStart, dropped_text
from tlstudio.core.models.weights import weights_available
from tlstudio.core.jobs.training import TrainedModel, TrainJob
from tlstudio.qt import engine
from tlstudio.qt.pages.base import NEEDS_DATASET, Page
from tlstudio.qt.pages.process_pages import UsesTrainingProcess
from tlstudio.qt.widgets.config_summary import ConfigSummary
from tlstudio.qt.widgets.epoch_table import EpochTable
from tlstudio.qt.widgets.message_banner import MessageBanner
from tlstudio.qt.widgets.run_controls import RunControls
from tlstudio.qt.widgets.stale_model_banner import StaleModelBanner
from tlstudio.qt.widgets.train_progress import TrainProgress
from tlstudio.qt.widgets.training_curves import TrainingCurves
from tlstudio.qt.workers import TaskSlot

REDRAW_MS = 100  # the progress line: 10 updates a second
# One plot repaint at most every PLOT_TICKS ticks (300 ms), the changed plots
# in turn. A repaint costs ~10 ms of the GUI process's CPU, and on 2 cores
# every bit of that comes out of training (docs/benchmarks.md, "GUI training").
PLOT_TICKS = 3
TABLE_ROWS_SHOWN = 8  # the epoch table fits up to this many epochs without scrolling
LR_PLOT_MIN_HEIGHT = 90  # room for the schedule's shape and its axis labels


def missing_weights(config, start_from: str | None = None) -> str:
    """Why a run would need to download weights first, or "" when it can start offline
    (as it always can from your own model, `start_from`)."""
    if start_from is not None or not config.pretrained or config.weights_file is not None or weights_available(config.arch):
        return ""
    return (
        f"The pretrained {config.arch} weights are not on this machine, so training would stop at a download. "
        "Import a weights file on the Model page, choose an architecture whose weights are here, "
        "or turn off pretrained weights there."
    )


def train_task(spec, config, reporter, target=None):
    """Runs in the worker thread, which forwards the engine process's events. The result names
    the window's own `spec`, so pages can tell it is the dataset they show.

    `target` replaces `training.run` in the engine (it must be picklable)."""
    result = engine.host().run(TrainJob(spec, config, target), reporter)
    return dataclasses.replace(result, spec=spec) if isinstance(result, TrainedModel) else result


def ask_user(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(
        parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


class TrainPage(UsesTrainingProcess, Page):
    running_changed = Signal(bool)  # a run started (True) or stopped, however it ended (False)
    key = "train"
    title = "Train"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        # Asked before closing during a run: (title, text) -> yes?  Tests replace it.
        self.confirm: Callable[[str, str], bool] = lambda title, text: ask_user(self, title, text)
        self.task_fn = train_task  # (spec, config, reporter) -> TrainResult
        # Asked before a new run replaces the trained model (the window asks about unsaved work).
        self.may_start: Callable[[], bool] = lambda: True
        self.result = None
        self.fit_end: FitEnd | None = None
        self.batches_seen = 0
        self.epochs_seen = 0
        self._started_at = 0.0
        self._ticks = 0
        self._next_plot = 0  # index in TrainingCurves.PARTS of the plot to repaint next
        self._run_dataset = None  # the dataset open when the run started
        self.start_from: str | None = None  # the Model page's own model the runs start from, by its label

        self.summary = ConfigSummary()
        self.summary.options_changed.connect(lambda changes: state.update_train_config(**changes))
        settings_box = QGroupBox("Next run")
        QVBoxLayout(settings_box).addWidget(self.summary)

        # The two-stage progress is the controls' own display; "Cancelling…" goes on its line.
        self.progress = TrainProgress()
        self.run_controls = RunControls("Start training", esc_scope=self, esc_help="Cancel training (Train page)",
                                        cancelling_text=None, progress_widget=self.progress)
        self.run_controls.start_requested.connect(lambda: self.start())
        self.run_controls.cancel_requested.connect(self._cancel_requested)
        self.start_button = self.run_controls.start_button
        self.start_button.setToolTip(
            "Train with the settings shown: stage 1 (head only), then stage 2 (unfrozen); "
            "the curves and the epoch table fill in live, Esc cancels"
        )
        self.start_button.setDefault(True)
        self.cancel_button = self.run_controls.cancel_button
        self.cancel_shortcut = self.run_controls.cancel_shortcut
        self.weights_banner = MessageBanner()
        self.weights_button = QPushButton("Import weights on the Model page…")
        self.weights_button.clicked.connect(lambda: state.navigate("model"))
        self.weights_button.hide()
        self.device_label = QLabel()  # where and how the run computes (DeviceSummary)
        self.device_label.setWordWrap(True)
        self.result_label = self.run_controls.status  # how the run ended, in bold
        bold = self.result_label.font()
        bold.setBold(True)
        self.result_label.setFont(bold)

        run_box = QGroupBox("Run")
        run_layout = QVBoxLayout(run_box)
        run_layout.addWidget(self.run_controls)
        run_layout.addWidget(self.weights_banner)
        self.stale_banner = StaleModelBanner(state)
        run_layout.addWidget(self.stale_banner)
        run_layout.addWidget(self.weights_button)
        run_layout.addWidget(self.device_label)
        run_layout.addStretch(1)

        top = QHBoxLayout()
        top.addWidget(settings_box, 2)  # its lines stay single at 1024 px: a wrapped form row gets clipped
        top.addWidget(run_box, 1)

        self.curves = TrainingCurves()
        self.curves.lr_widget.setMinimumHeight(LR_PLOT_MIN_HEIGHT)
        self.table = EpochTable()
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.curves)
        self.split.addWidget(self.table)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 0)
        self.split.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.split, 1)

        self._slot = TaskSlot(self)
        self._slot.running_changed.connect(self._running_changed)
        self._slot.running_changed.connect(self.running_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.flush)
        state.train_config_changed.connect(self._config_changed)
        state.dataset_changed.connect(self._dataset_changed)
        self._config_changed(state.train_config)

    # -- Page contract -----------------------------------------------------------
    def missing(self):
        return NEEDS_DATASET if self.state.dataset is None else None

    def shutdown(self) -> None:
        """Stop a running run and wait for it (the learner stays consistent)."""
        self.release_training_process()
        self._slot.stop_and_wait()

    def is_busy(self) -> bool:
        return self.is_training()

    def confirm_close(self) -> bool:
        """The window asks this before closing: True when it may close now."""
        if not self.is_training():
            return True
        if not self.confirm(
            "Training is running",
            "Stop training and close? The model keeps the weights of the best completed epoch.",
        ):
            return False
        self.cancel()
        return True

    # -- run -------------------------------------------------------------------
    def is_training(self) -> bool:
        return self._slot.is_running()

    def start(self, task_fn: Callable | None = None) -> None:
        """Start a run; `task_fn` replaces `self.task_fn` for this one (a resumed run)."""
        if self.is_training() or self.state.dataset is None:
            return
        if task_fn is None and not self.may_start():
            return
        task_fn = task_fn or self.task_fn
        spec, config = self.state.training_spec(), self.state.train_config  # the dataset with its edits
        if self._show_missing_weights(config):
            return
        self._run_dataset = self.state.dataset
        self.result = None
        self.fit_end = None
        self.batches_seen = self.epochs_seen = 0
        self.curves.reset()
        self.table.reset()
        self.progress.reset({1: config.freeze_epochs, 2: config.epochs})
        self.progress.note("Preparing data and model…" if self.start_from is None else
                           f"Preparing data and model from {self.start_from}…")
        self.progress.flush()
        self.run_controls.started()
        self.device_label.setText("")
        self._started_at = time.monotonic()
        self._slot.start(
            lambda reporter: task_fn(spec, config, reporter),
            name="train",
            on_event=self._on_event,
            on_success=self._succeeded,
            on_failure=self._failed,
            on_cancel=self._cancelled,
        )
        self._timer.start()

    def cancel(self) -> None:
        """Cancel button, Esc, or the window closing."""
        if self.is_training():
            self.run_controls.cancel()

    def _cancel_requested(self) -> None:
        self._slot.request_cancel()
        self.progress.note("Cancelling after this batch…")
        self.flush()

    def _running_changed(self, running: bool) -> None:
        self.start_button.setEnabled(not running and not missing_weights(self.state.train_config, self.start_from))
        self.summary.set_editable(not running)
        if not running:
            self.ready_training_process()  # for the next run

    # -- events (GUI thread; record only, the timer draws) ------------------------
    def _on_event(self, ev) -> None:
        if isinstance(ev, BatchEnd):
            self.batches_seen += 1
            self.curves.add_batch(ev)
            self.progress.add_batch(ev)
        elif isinstance(ev, EpochEnd):
            self.epochs_seen += 1
            self.curves.add_epoch(ev)
            self.table.add_epoch(ev)
            if ev.dropped:
                self.state.status_message.emit(dropped_text(len(ev.dropped)))
        elif isinstance(ev, EarlierEpochs):  # a resumed run: the epochs before it stopped
            from tlstudio.qt.project_pages import show_run_history

            show_run_history(self, ev.history)
        elif isinstance(ev, StageStart):
            self.curves.start_stage(ev)
            self.progress.start_stage(ev)
        elif isinstance(ev, Progress):
            count = f" {ev.done}/{ev.total}" if ev.total else f" {ev.done}" if ev.done else ""
            self.progress.note(f"{ev.message or ev.task}{count}")
        elif isinstance(ev, FitEnd):
            self.fit_end = ev
        elif isinstance(ev, Message):
            self.state.status_message.emit(ev.text)
        elif isinstance(ev, DeviceSummary):
            self.device_label.setText(ev.text())

    def flush(self) -> None:
        """While running, the progress line every tick and one changed plot
        every PLOT_TICKS ticks, in turn: repainting a plot costs far more than
        the progress line, and one at a time keeps each pause of the event
        loop short. Once stopped, everything."""
        self.progress.flush()
        if not self._timer.isActive():
            self.curves.flush()
            return
        self._ticks += 1
        changed = self.curves.changed_parts()
        if self._ticks % PLOT_TICKS or not changed:
            return
        parts = TrainingCurves.PARTS
        order = parts[self._next_plot:] + parts[: self._next_plot]
        part = next(p for p in order if p in changed)
        self.curves.flush((part,))
        self._next_plot = (parts.index(part) + 1) % len(parts)

    # -- end of run ------------------------------------------------------------
    def _end(self, progress_text: str, completed: bool = False) -> None:
        """The controls have said how the run ended; the progress line says how far it got."""
        self._timer.stop()
        self.flush()  # the timer is stopped: everything is drawn
        self.progress.finish(progress_text, completed)

    def _succeeded(self, result) -> None:
        self.result = result
        elapsed = time.monotonic() - self._started_at
        self.table.mark_kept(result.kept_epoch)
        usable = result.status != "failed" or result.kept_epoch is not None
        if usable and self.state.dataset is self._run_dataset:  # not if another dataset was opened meanwhile
            self.state.set_training(result)
        if result.status == "failed":
            self._failed(result.message)
            return
        self.run_controls.finished(result.message)
        self._end(
            f"{result.status.capitalize()}: {self.epochs_seen} epochs, {self.batches_seen} batches in {elapsed:.1f}\u00a0s.",  # never "s." alone
            completed=result.status == "completed",
        )
        self.state.status_message.emit(result.message)

    def _failed(self, message: str) -> None:
        self._end(self.run_controls.failed("Training", message))

    def _cancelled(self) -> None:
        text = "Cancelled before a model was built; nothing was kept."
        self.run_controls.cancelled(text)
        self._end(text)

    # -- layout and checks that follow the config ----------------------------------
    def _config_changed(self, config) -> None:
        self.summary.set_config(config)
        self._fit_table(config.freeze_epochs + config.epochs)
        if not self.is_training():
            self._show_missing_weights(config)

    def set_start_from(self, label: str | None) -> None:
        """The next runs start from your own model `label` (None: from the ImageNet weights)."""
        self.start_from = label
        self.summary.set_start_from(label)
        if not self.is_training():
            self._show_missing_weights(self.state.train_config)

    def _show_missing_weights(self, config) -> bool:
        """Say, before any run starts, when it would need a download; True when it would."""
        why = missing_weights(config, self.start_from)
        if why:
            self.weights_banner.show_message(why, "warning")
        else:
            self.weights_banner.hide()
        self.weights_button.setVisible(bool(why))
        self.start_button.setEnabled(not why and not self.is_training())
        return bool(why)

    def _fit_table(self, epochs: int) -> None:
        """The epoch table tall enough for the planned epochs (up to TABLE_ROWS_SHOWN); the curves get the rest."""
        rows = min(max(epochs, 1), TABLE_ROWS_SHOWN)
        header = self.table.horizontalHeader().sizeHint().height()
        height = header + rows * self.table.verticalHeader().defaultSectionSize() + 2 * self.table.frameWidth() + 2
        self.table.setFixedHeight(height)
        self.split.setSizes([self.split.height(), height])  # a shorter table hands its height back to the curves

    def _dataset_changed(self, _spec) -> None:
        if not self.is_training():
            self.curves.reset()
            self.table.reset()
            self.progress.reset({})
            self.progress.flush()
            self.result_label.setText("")
            self.ready_training_process()
