"""The run-controls widget every long job's page uses: Esc cancels, an ETA after progress,
a failure in one line, and a new run after a cancelled one."""
from __future__ import annotations

import time

from PySide6.QtCore import Qt

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
