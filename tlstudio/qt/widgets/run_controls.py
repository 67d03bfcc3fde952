"""Start, Cancel (Esc), a progress bar and a status line with an ETA: the controls of every long job.

A page sets the Start text, connects `start_requested`/`cancel_requested`, and tells the widget
what its job does: `started`, `progress(done, total, text)`, then one of `finished`, `failed`
or `cancelled`. `failure_line` is the one place a job's failure becomes the line users read.
A page with a progress display of its own (training's two stages) passes it as `progress_widget`
and drives it itself; the widget then keeps Start, Cancel, Esc and the status line.
"""
from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from tlstudio.core.durations import format_duration

# An ETA from the first one or two steps is mostly start-up cost; wait for a few.
ETA_AFTER_STEPS = 2


def failure_line(what: str, message: str) -> str:
    """`what failed: message`, on one line whatever the job raised (a traceback keeps its last line)."""
    lines = [line.strip() for line in str(message).strip().splitlines() if line.strip()]
    return f"{what} failed: {lines[-1] if lines else 'no reason given'}"


class RunControls(QWidget):
    start_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, start_text: str, parent: QWidget | None = None, *, esc_scope: QWidget | None = None,
                 esc_help: str = "Cancel the running job", clock=time.monotonic, show_start: bool = True,
                 show_status: bool = True, hide_when_idle: bool = False, hide_start_while_running: bool = False,
                 cancelling_text: str | None = "Cancelling…", progress_widget: QWidget | None = None):
        """`esc_scope`: where Esc cancels (a page: Esc anywhere on it); the widget itself when None.
        `hide_when_idle`: Cancel and the bar only while a job runs (a toolbar's controls);
        `hide_start_while_running`: Start makes way for Cancel while a job runs (a panel's header);
        `show_status`: False when the page says the outcome in its own words;
        `cancelling_text`: the status once Cancel is pressed, kept until the job ends (None: the page says it);
        `progress_widget`: shown under the buttons instead of the bar, drawn by the page."""
        super().__init__(parent)
        self._hide_when_idle = hide_when_idle
        self._hide_start_while_running = hide_start_while_running
        self._show_start = show_start
        self._cancelling_text = cancelling_text
        self._cancelling = False
        self._clock = clock
        self._running = False
        self._began = None
        self._first_done = 0
        self._last = (0, 0)  # (done, total) of the last progress: a pass that starts again restarts the ETA
        self.start_button = QPushButton(start_text)
        self.start_button.clicked.connect(self.start_requested)
        self.start_button.setVisible(show_start)
        self.cancel_button = QPushButton("Cancel (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), esc_scope or self, self.cancel)
        self.cancel_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.cancel_shortcut.setWhatsThis(esc_help)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        self.progress_widget = progress_widget
        if progress_widget is None:
            row.addWidget(self.bar, 1)
            row.addStretch(0)  # the room a hidden or narrowed bar leaves, so the buttons keep their size
        else:  # the page's own progress, full width; the plain bar stays unused and out of sight
            row.addStretch(1)
            self.bar.setParent(self)
            self.bar.hide()
            layout.addWidget(progress_widget)
        self.status_row = QHBoxLayout()  # a page may add a button that acts on what the status says
        self.status_row.addWidget(self.status, 1)
        layout.addLayout(self.status_row)
        self.status.setVisible(show_status)
        self._set_running(False)

    # -- what the page's job does ------------------------------------------------------
    def is_running(self) -> bool:
        return self._running

    def started(self, text: str = "", total: int = 0) -> None:
        """A job began; `total` steps when known (a busy bar until then)."""
        self._set_running(True)
        self._began = None
        self._last = (0, max(int(total), 0))
        self.bar.setRange(0, max(int(total), 0))
        self.bar.setValue(0)
        self.status.setText(text)

    def progress(self, done: int, total: int, text: str = "", *,
                 line: Callable[[float | None], str] | None = None) -> None:
        """`done` of `total` steps (total 0: unknown); the status line gains an ETA once it means something.
        `line(eta_seconds or None)` words the status line itself (a page whose tests pin its words)."""
        done, total = int(done), int(total)
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(max(done, 0), total))
        else:
            self.bar.setRange(0, 0)
        now = self._clock()
        if self._began is None or done < self._last[0] or total != self._last[1]:
            self._began, self._first_done = now, done  # the first step, or a new pass (the doctor's second)
        self._last = (done, total)
        if self._cancelling and self._cancelling_text is not None:
            return  # "Cancelling…" stays until the job says it stopped
        eta = self.eta_seconds(done, total, now)
        if line is not None:
            self.status.setText(line(eta))
            return
        parts = [p for p in (text, f"{done:,}/{total:,}" if total > 0 else "") if p]
        if eta is not None:
            parts.append(f"ETA {format_duration(eta)}")
        self.status.setText("  ·  ".join(parts))

    def eta_seconds(self, done: int, total: int, now: float | None = None) -> float | None:
        steps = done - self._first_done
        if self._began is None or total <= 0 or steps < ETA_AFTER_STEPS:
            return None
        per_step = ((self._clock() if now is None else now) - self._began) / steps
        return max(total - done, 0) * per_step

    def note(self, text: str) -> None:
        """Say what the job is doing without a step count (loading, verifying)."""
        self.status.setText(text)

    def add_beside_status(self, widget: QWidget) -> None:
        self.status_row.addWidget(widget, 0, Qt.AlignmentFlag.AlignTop)

    def finished(self, message: str | None = None) -> None:
        """The job ended well; `message` replaces the status line (None: the page has said it)."""
        self._set_running(False)
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        if message is not None:
            self.status.setText(message)

    def failed(self, what: str, message: str) -> str:
        """The job raised: its one line, shown and returned (for the window's status bar)."""
        line = failure_line(what, message)
        self._set_running(False)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.status.setText(line)
        return line

    def cancelled(self, message: str = "Cancelled.") -> None:
        self._set_running(False)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.status.setText(message)

    def cancel(self) -> None:
        """Cancel button or Esc: ask the page's job to stop (the page says when it has)."""
        if not self._running:
            return
        self.cancel_button.setEnabled(False)
        self._cancelling = True
        if self._cancelling_text is not None:
            self.status.setText(self._cancelling_text)
        self.cancel_requested.emit()

    def _set_running(self, running: bool) -> None:
        self._running = running
        self._cancelling = False
        self.cancel_button.setEnabled(running)
        # Idle, Esc is left to others: two controls on one page (a scan, a check) would make it ambiguous.
        self.cancel_shortcut.setEnabled(running)
        self.start_button.setEnabled(not running)
        if self._hide_start_while_running:
            self.start_button.setVisible(self._show_start and not running)
        if self._hide_when_idle:
            self.cancel_button.setVisible(running)
            self.bar.setVisible(running and self.progress_widget is None)
