"""The run-controls widget every long job's page uses: Esc cancels, an ETA after progress,
a failure in one line, and a new run after a cancelled one."""
from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressBar, QVBoxLayout, QWidget

from tlstudio.core.events import Cancelled
from tlstudio.qt.widgets.run_controls import RunControls, failure_line
from tlstudio.qt.workers import TaskSlot


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def counting_job(reporter):
    """Counts until cancelled; raising Cancelled is how a job says it stopped."""
    for _ in range(2000):
        if reporter.cancel_requested():
            raise Cancelled()
        time.sleep(0.005)
    return "ran out"


def wire(controls: RunControls, slot: TaskSlot, ended: list):
    def start():
        controls.started("Counting…")
        slot.start(counting_job, name="count", on_success=lambda r: (ended.append(r), controls.finished("Done.")),
                   on_failure=lambda m: (ended.append(m), controls.failed("Counting", m)),
                   on_cancel=lambda: (ended.append("cancelled"), controls.cancelled("Cancelled.")))
    controls.start_requested.connect(start)
    controls.cancel_requested.connect(slot.request_cancel)


def test_escape_cancels_a_running_job_and_start_works_again(qtbot):
    controls = RunControls("Count")
    qtbot.addWidget(controls)
    slot = TaskSlot(controls)
    ended: list = []
    wire(controls, slot, ended)
    with qtbot.waitActive(controls):  # Esc is a shortcut: it reaches only the active window
        controls.show()
        controls.activateWindow()

    qtbot.mouseClick(controls.start_button, Qt.MouseButton.LeftButton)
    assert controls.is_running() and controls.cancel_button.isEnabled() and not controls.start_button.isEnabled()
    qtbot.keyClick(controls.bar, Qt.Key.Key_Escape)  # Start is disabled now: Esc lands elsewhere in the widget
    qtbot.waitUntil(lambda: bool(ended), timeout=10_000)
    assert ended == ["cancelled"], (ended, controls.status.text())
    assert not controls.is_running()
    assert controls.status.text() == "Cancelled."
    assert controls.start_button.isEnabled() and not controls.cancel_button.isEnabled()

    qtbot.mouseClick(controls.start_button, Qt.MouseButton.LeftButton)  # a second run after the cancel
    assert slot.is_running() and controls.is_running()
    assert controls.status.text() == "Counting…"
    qtbot.mouseClick(controls.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ended == ["cancelled", "cancelled"], timeout=10_000)
    assert not slot.is_running()


def test_eta_appears_once_progress_says_how_fast(qtbot):
    clock = Clock()
    controls = RunControls("Go", clock=clock)
    qtbot.addWidget(controls)
    controls.started("Evaluating", total=100)
    assert controls.bar.maximum() == 100 and "ETA" not in controls.status.text()
    controls.progress(0, 100, "Evaluating")
    clock.now += 1
    controls.progress(1, 100, "Evaluating")
    assert "ETA" not in controls.status.text()  # one step says little about the rest
    clock.now += 1
    controls.progress(2, 100, "Evaluating")  # 1 s a step, 98 steps left
    assert controls.status.text() == "Evaluating  ·  2/100  ·  ETA 1:38"
    assert controls.bar.value() == 2
    controls.finished("Accuracy 91.0%")
    assert controls.status.text() == "Accuracy 91.0%" and controls.bar.value() == controls.bar.maximum()


def test_a_failure_shows_one_line(qtbot):
    controls = RunControls("Export")
    qtbot.addWidget(controls)
    controls.started()
    line = controls.failed("Export", "Traceback (most recent call last):\n  File 'x.py'\nOSError: disk full\n")
    assert line == "Export failed: OSError: disk full"
    assert controls.status.text() == line and "\n" not in controls.status.text()
    assert not controls.is_running() and controls.start_button.isEnabled()
    assert failure_line("Export", "") == "Export failed: no reason given"


def test_a_real_failure_from_the_slot_is_one_line(qtbot):
    controls = RunControls("Go")
    qtbot.addWidget(controls)
    slot = TaskSlot(controls)

    def broken(reporter):
        raise ValueError("bad value\nsecond line")

    controls.started()
    slot.start(broken, on_failure=lambda m: controls.failed("Run", m))
    qtbot.waitUntil(lambda: not controls.is_running(), timeout=10_000)
    assert controls.status.text() == "Run failed: second line"


def test_start_can_make_way_for_cancel_while_running(qtbot):
    controls = RunControls("Check dataset", hide_start_while_running=True)
    qtbot.addWidget(controls)
    controls.show()
    assert controls.start_button.isVisible()
    controls.started("Reading pixels…")
    assert controls.start_button.isHidden() and controls.cancel_button.isVisible()
    controls.finished("Done: 3 findings")
    assert controls.start_button.isVisible() and controls.start_button.isEnabled()
    hidden = RunControls("Scan", show_start=False, hide_start_while_running=True)
    qtbot.addWidget(hidden)
    hidden.show()
    hidden.started()
    hidden.cancelled()
    assert hidden.start_button.isHidden()  # never shown is never shown again


def test_a_page_may_word_the_line_and_keep_its_eta(qtbot):
    clock = Clock()
    controls = RunControls("Run LR finder", clock=clock)
    qtbot.addWidget(controls)
    controls.started("Preparing…", total=100)
    seen = []
    for step in range(1, 5):
        controls.progress(step, 100, line=lambda eta, s=step: seen.append(eta) or f"step {s}, {eta}")
        clock.now += 2
    assert seen[:2] == [None, None] and seen[2] == pytest.approx(97 * 2.0) and seen[3] == pytest.approx(96 * 2.0)
    assert controls.status.text() == f"step 4, {seen[3]}" and controls.bar.value() == 4


def test_a_second_pass_starts_its_eta_afresh(qtbot):
    clock = Clock()
    controls = RunControls("Check", clock=clock)
    qtbot.addWidget(controls)
    controls.started()
    for done in range(0, 11):  # a fast first pass: 0.1 s a step
        controls.progress(done, 10, "pixels")
        clock.now += 0.1
    clock.now += 50
    for done in range(0, 3):  # a slow second pass: 10 s a step
        controls.progress(done, 10, "features")
        clock.now += 10
    assert controls.eta_seconds(2, 10, clock.now - 10) == pytest.approx(80.0)
    assert controls.status.text().startswith("features  ·  2/10  ·  ETA 1:20")


def test_cancelling_says_so_until_the_job_stops(qtbot):
    controls = RunControls("Go", cancelling_text="Cancelling after this batch…")
    qtbot.addWidget(controls)
    asked = []
    controls.cancel_requested.connect(lambda: asked.append(True))
    controls.started(total=10)
    controls.progress(3, 10, "Probing")
    controls.cancel()
    controls.progress(4, 10, "Probing")  # the step in flight still reports
    assert asked == [True] and controls.status.text() == "Cancelling after this batch…" and controls.bar.value() == 4
    controls.cancelled()
    controls.started(total=10)
    controls.progress(1, 10, "Probing")
    assert controls.status.text() == "Probing  ·  1/10"  # a new run speaks again
    quiet = RunControls("Go", cancelling_text=None)
    qtbot.addWidget(quiet)
    quiet.started()
    quiet.note("Stage 1")
    quiet.cancel()
    quiet.progress(2, 10, "batch")
    assert quiet.status.text() == "batch  ·  2/10"  # the page words the cancel itself


def test_a_page_may_bring_its_own_progress_display(qtbot):
    own = QProgressBar()
    controls = RunControls("Start training", progress_widget=own, hide_when_idle=True)
    qtbot.addWidget(controls)
    controls.show()
    assert own.isVisible() and not controls.bar.isVisible() and controls.bar.parent() is controls
    controls.started()
    assert own.isVisible() and not controls.bar.isVisible() and controls.cancel_button.isVisible()
    controls.finished("Completed")
    assert controls.status.text() == "Completed" and not controls.bar.isVisible()


def test_esc_belongs_to_the_running_one_of_two_controls(qtbot):
    page = QWidget()
    qtbot.addWidget(page)
    outer = RunControls("Scan", page, esc_scope=page, show_start=False)
    inner = RunControls("Check", page)
    layout = QVBoxLayout(page)
    layout.addWidget(outer)
    layout.addWidget(inner)
    asked = []
    inner.cancel_requested.connect(lambda: asked.append("inner"))
    outer.cancel_requested.connect(lambda: asked.append("outer"))
    with qtbot.waitActive(page):
        page.show()
        page.activateWindow()
    inner.started()
    inner.bar.setFocus()
    qtbot.keyClick(inner.bar, Qt.Key.Key_Escape)  # inside both scopes; only the running one listens
    assert asked == ["inner"]
