"""Learning-rate page: run fastai's LR finder, see all four suggestions, choose.

Stage 1 probes the head with the body frozen and sets `head_lr`. Stage 2
probes the model unfrozen to the depth chosen on the Model page and sets
`base_lr`, the top of stage 2's discriminative slice; when a trained model
exists, stage 2 starts from a copy of its weights (the trained learner itself
is never touched), otherwise from a fresh learner. Like training, the finder
runs in the engine process (an `LrFindJob`), not in the window's.
"""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from tlstudio.core.config import TrainConfig
from tlstudio.core.durations import format_duration
from tlstudio.core.events import LrFindProgress, Message, Progress
from tlstudio.core.jobs.training import LrFindJob
from tlstudio.qt import engine
from tlstudio.qt.pages.base import NEEDS_DATASET, Page
from tlstudio.qt.pages.process_pages import UsesTrainingProcess
from tlstudio.qt.widgets.lr_edit import LrEdit
from tlstudio.qt.widgets.lr_plot import SUGGESTION_COLOURS, SUGGESTION_TIPS, LrPlot, format_lr
from tlstudio.qt.widgets.run_controls import RunControls
from tlstudio.qt.workers import TaskSlot

REDRAW_MS = 100
DEFAULT_SUGGESTION = "valley"  # fastai's default suggestion
HIGH_LR = 1.0  # above this, training all but always diverges


def rate_warning(lr: float, result) -> str:
    """Why a chosen rate looks wrong, or ""."""
    if lr > HIGH_LR:
        return f"⚠ {format_lr(lr)} is above {HIGH_LR:g}: training at this rate almost always diverges."
    if result is not None and len(result.lrs) and not (min(result.lrs) <= lr <= max(result.lrs)):
        return f"⚠ {format_lr(lr)} is outside the range the finder probed ({format_lr(min(result.lrs))} to {format_lr(max(result.lrs))})."
    return ""


def lr_find_task(spec, config, stage, trained, options, reporter, wrap=None, start_from=None):
    """Runs in the worker thread; the finder itself runs in the engine process, so it does
    not share the GIL with the window. Stage 2 starts from a copy of the trained model held
    there (the held one is left as it is); otherwise from your own model `start_from` when
    the Model page chose one. `wrap(job)` may replace the job (picklable)."""
    model_id = trained.model.id if stage == 2 and trained is not None else None
    job = LrFindJob(spec, config, stage, dict(options), model_id, None if model_id else start_from)
    return engine.host().run(wrap(job) if wrap else job, reporter)


def colour_icon(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


def trained_model_fits(trained, spec, config) -> bool:
    """Can stage 2 start from this trained model's weights?"""
    return trained is not None and trained.spec is spec and trained.config.arch == config.arch


class LrPage(UsesTrainingProcess, Page):
    key = "lr"
    title = "Learning rate"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        self.task_fn = self._find  # (spec, config, stage, trained, options, reporter) -> LrFindResult
        self.start_from: str | None = None  # your own model the next run starts from (the Model page's choice)
        self.options: dict = {}  # extra keyword arguments for find_lr (e.g. num_it)
        self.results: dict[int, object] = {}
        self._live: tuple[list, list] = ([], [])
        self._live_total = 0

        intro = QLabel(
            "The finder trains briefly while raising the learning rate and plots the loss. "
            "Pick a rate where the loss still falls steeply: drag the dashed line, click a "
            "suggestion, or type a value."
        )
        intro.setWordWrap(True)

        self.stage1_radio = QRadioButton("Stage 1: head only (body frozen), sets the head rate")
        self.stage2_radio = QRadioButton()
        self.stage2_note = QLabel()
        self.stage2_note.setWordWrap(True)
        self.stage2_note.setIndent(24)
        self.stage2_note.setStyleSheet("color: #666;")
        self.stage1_radio.setChecked(True)
        self.stage_group = QButtonGroup(self)
        self.stage_group.addButton(self.stage1_radio, 1)
        self.stage_group.addButton(self.stage2_radio, 2)
        self.stage_group.idToggled.connect(lambda _id, on: on and self._show_stage())
        self.run_controls = RunControls("Run LR finder", esc_scope=self, esc_help="Cancel the LR finder (Learning rate page)",
                                        cancelling_text="Cancelling after this batch…")
        self.run_controls.start_requested.connect(self.run_finder)
        self.run_button = self.run_controls.start_button
        self.run_button.setToolTip("Train briefly on a few batches while raising the rate from 1e-7 to 10; the weights are restored afterwards")
        self.cancel_button = self.run_controls.cancel_button
        self.cancel_shortcut = self.run_controls.cancel_shortcut
        self.progress = self.run_controls.bar
        self.status = self.run_controls.status

        stage_box = QGroupBox("Finder")
        stage_layout = QVBoxLayout(stage_box)
        stage_layout.addWidget(self.stage1_radio)
        stage_layout.addWidget(self.stage2_radio)
        stage_layout.addWidget(self.stage2_note)
        stage_layout.addWidget(self.run_controls)

        self.plot = LrPlot()
        self.plot.rate_chosen.connect(self.choose_rate)
        self.suggestion_buttons: dict[str, QPushButton] = {}
        suggestion_row = QHBoxLayout()
        suggestion_row.addWidget(QLabel("Use suggestion:"))
        for name, colour in SUGGESTION_COLOURS.items():
            button = QPushButton(name)
            button.setEnabled(False)
            button.setIcon(colour_icon(colour))
            button.setToolTip(SUGGESTION_TIPS[name])
            button.clicked.connect(lambda _c=False, n=name: self.plot.choose_suggestion(n))
            self.suggestion_buttons[name] = button
            suggestion_row.addWidget(button)
        suggestion_row.addStretch(1)

        self.head_edit = LrEdit()
        self.head_edit.rate_edited.connect(lambda lr: self._typed(1, lr))
        self.base_edit = LrEdit()
        self.base_edit.rate_edited.connect(lambda lr: self._typed(2, lr))
        self.slice_label = QLabel()
        self.slice_label.setWordWrap(True)
        self.rate_warning = QLabel(wordWrap=True)
        self.rate_warning.setStyleSheet("color: #8a5a00;")
        self.rate_warning.hide()
        chosen_box = QGroupBox("Chosen rates (used by the Train page)")
        chosen = QFormLayout(chosen_box)
        chosen.addRow("Stage 1 head rate:", self.head_edit)
        chosen.addRow("Stage 2 top rate:", self.base_edit)
        chosen.addRow("", self.slice_label)
        chosen.addRow(self.rate_warning)

        top = QHBoxLayout()
        top.addWidget(stage_box, 3)
        top.addWidget(chosen_box, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)
        layout.addLayout(suggestion_row)

        self._slot = TaskSlot(self)
        self._slot.running_changed.connect(self._running_changed)
        self.run_controls.cancel_requested.connect(self._slot.request_cancel)
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._draw_live)
        state.train_config_changed.connect(self._config_changed)
        state.training_changed.connect(lambda _r: self._update_stage2_text())
        state.dataset_changed.connect(self._dataset_changed)
        self._config_changed(state.train_config)

    # -- Page contract ---------------------------------------------------------
    def missing(self):
        return NEEDS_DATASET if self.state.dataset is None else None

    def shutdown(self) -> None:
        self.release_training_process()
        self._slot.stop_and_wait()

    def is_busy(self) -> bool:
        return self.is_running()

    # -- stage -----------------------------------------------------------------
    def stage(self) -> int:
        return self.stage_group.checkedId()

    def set_stage(self, stage: int) -> None:
        (self.stage1_radio if stage == 1 else self.stage2_radio).setChecked(True)

    def _update_stage2_text(self) -> None:
        c = self.state.train_config
        depth = "all layer groups" if c.unfreeze_depth is None else f"last {c.unfreeze_depth} layer groups"
        self.stage2_radio.setText(f"Stage 2: unfrozen ({depth}), sets the top rate")
        note = (
            "Starts from a copy of the trained model."
            if trained_model_fits(self.state.training, self.state.training_spec(), c)
            else "Starts from a fresh model; train first to probe the trained one. The depth is set on the Model page."
        )
        shown = self.results.get(2)
        if shown is not None and shown.depth != c.unfreeze_depth:
            ran = "all groups" if shown.depth is None else f"the last {shown.depth} groups"
            note += f" The curve shown ran with {ran} unfrozen: run it again for the new depth."
        self.stage2_note.setText(note)

    def _show_stage(self) -> None:
        result = self.results.get(self.stage())
        if result is None:
            self.plot.clear()
        else:
            self.plot.show_result(result)
        self.plot.set_rate(self._config_rate(self.stage()))
        self._update_suggestion_buttons()

    def _update_suggestion_buttons(self) -> None:
        rates = self.plot.suggestion_rates()
        for name, button in self.suggestion_buttons.items():
            button.setEnabled(name in rates and not self._slot.is_running())
            button.setText(f"{name}  {format_lr(rates[name])}" if name in rates else name)

    # -- running the finder -------------------------------------------------------
    def _find(self, spec, config, stage, trained, options, reporter):
        return lr_find_task(spec, config, stage, trained, options, reporter, start_from=self.start_from)

    def run_finder(self) -> None:
        if self._slot.is_running() or self.state.dataset is None:
            return
        stage, spec, config = self.stage(), self.state.training_spec(), self.state.train_config
        trained = self.state.training if stage == 2 and trained_model_fits(self.state.training, spec, config) else None
        options = dict(self.options)
        self.results.pop(stage, None)
        self.plot.clear()
        self._live = ([], [])
        self.run_controls.started("Preparing data and model…", total=options.get("num_it", 100))
        self._slot.start(
            lambda reporter: self.task_fn(spec, config, stage, trained, options, reporter),
            name="lr_find",
            on_event=self._on_event,
            on_success=self._finished,
            on_failure=self._failed,
            on_cancel=self._cancelled,
        )
        self._timer.start()

    def cancel(self) -> None:
        self.run_controls.cancel()

    def is_running(self) -> bool:
        return self._slot.is_running()

    def _running_changed(self, running: bool) -> None:
        self.stage1_radio.setEnabled(not running)
        self.stage2_radio.setEnabled(not running)
        self._update_suggestion_buttons()
        if not running:
            self.ready_training_process()  # for the next run

    def _on_event(self, ev) -> None:
        if isinstance(ev, LrFindProgress):
            self._live_total = ev.total
            self._live[0].append(ev.lr)
            self._live[1].append(ev.loss)
            # Every step, so the ETA counts from the first; the label repaints with the next frame.
            self.run_controls.progress(len(self._live[0]), ev.total, line=self._probe_line)
        elif isinstance(ev, Progress) and not self._live[0]:
            self.run_controls.note(ev.message or ev.task)  # "Starting the training process…" and the like
        elif isinstance(ev, Message):
            self.state.status_message.emit(ev.text)

    def _probe_line(self, eta: float | None) -> str:
        lrs, losses = self._live
        return (
            f"Probing: step {len(lrs)}/{self._live_total}, lr {format_lr(lrs[-1])}, loss {losses[-1]:.3f}, "
            f"about {format_duration(eta, 'estimating…')} left (it stops early once the loss diverges)"
        )

    def _draw_live(self) -> None:
        lrs, losses = self._live
        if lrs:
            self.plot.show_progress(lrs, losses)

    def _ended(self, text: str) -> None:
        self._timer.stop()
        self.run_controls.finished(text)

    def _cancelled(self) -> None:
        self._timer.stop()
        self.run_controls.cancelled("Cancelled.")

    def _failed(self, message: str) -> None:
        self._timer.stop()
        self.plot.clear()
        self.state.status_message.emit(self.run_controls.failed("The LR finder", message))

    def _finished(self, result) -> None:
        self.results[result.stage] = result
        self._update_stage2_text()
        if result.stage != self.stage():
            self.set_stage(result.stage)
        self.plot.show_result(result)
        notes = []
        if result.cancelled:
            notes.append(f"Cancelled after {len(result.lrs)} steps; the curve is partial.")
        names = {s.name for s in result.suggestions}
        if DEFAULT_SUGGESTION in names:
            self.plot.choose_suggestion(DEFAULT_SUGGESTION)
            notes.append(f"{self.status_text_for(self.plot.rate())} (fastai's default); drag the line or click another suggestion.")
        else:
            self.plot.set_rate(self._config_rate(result.stage))
        for name, reason in getattr(result, "skipped", ()):
            notes.append(f"No {name} suggestion: {reason}.")
        self._update_suggestion_buttons()
        self._ended(" ".join(notes) or "Done.")

    def restore(self, results: dict, stage: int, status: str) -> None:
        """Curves, stage and status line as a reopened project saved them."""
        self.results = dict(results)
        self.set_stage(stage)
        self._show_stage()
        self._config_changed(self.state.train_config)
        self.status.setText(status)

    # -- the chosen rates --------------------------------------------------------
    def choose_rate(self, lr: float) -> None:
        """The plot's choice (line dragged, marker or button clicked) for the shown stage."""
        self._set_config_rate(self.stage(), lr)
        if not self._slot.is_running():
            self.status.setText(self.status_text_for(lr) + ".")

    def status_text_for(self, lr: float) -> str:
        """'Chose slide (1.20e-03)' for a suggestion's rate, 'Chose 3.00e-03 by hand' otherwise."""
        rate_name = "head rate" if self.stage() == 1 else "top rate"
        for name, rate in self.plot.suggestion_rates().items():
            if abs(rate - lr) <= 1e-9 * rate:
                return f"Chose {name} ({format_lr(lr)}) as the stage {self.stage()} {rate_name}"
        return f"Chose {format_lr(lr)} by hand as the stage {self.stage()} {rate_name}"

    def _typed(self, stage: int, lr: float) -> None:
        self._set_config_rate(stage, lr)
        if not self._slot.is_running():
            self.status.setText(f"Typed {format_lr(lr)} as the stage {stage} {'head' if stage == 1 else 'top'} rate.")

    def _config_rate(self, stage: int) -> float:
        c = self.state.train_config
        return c.stage1_lr if stage == 1 else c.base_lr

    def _set_config_rate(self, stage: int, lr: float) -> None:
        if stage == 1:
            self.state.update_train_config(head_lr=lr)
        else:
            self.state.update_train_config(base_lr=lr)

    def _config_changed(self, c) -> None:
        self.head_edit.set_value(c.stage1_lr)
        self.base_edit.set_value(c.base_lr)
        self.slice_label.setText(f"stage 2 trains with slice({format_lr(c.base_lr / c.lr_mult)}, {format_lr(c.base_lr)})")
        if not self._line_is_dragging():
            self.plot.set_rate(self._config_rate(self.stage()))
        warnings = [rate_warning(c.stage1_lr, self.results.get(1)), rate_warning(c.base_lr, self.results.get(2))]
        text = "\n".join(w for w in warnings if w)
        self.rate_warning.setText(text)
        self.rate_warning.setVisible(bool(text))
        self._update_stage2_text()

    def _line_is_dragging(self) -> bool:
        return bool(getattr(self.plot.line, "moving", False))

    def _dataset_changed(self, _spec) -> None:
        """The rates chosen from the older dataset's curves go with them (back to fastai's
        defaults); a reopened project sets its own after this."""
        if self._slot.is_running():
            self._slot.cancel()
            self._timer.stop()
        had_curves = bool(self.results)
        self.results.clear()
        self.run_controls.cancelled("")  # idle, an empty bar and no line
        if had_curves:
            default = TrainConfig()
            self.state.update_train_config(head_lr=default.head_lr, base_lr=default.base_lr)
        self._show_stage()
