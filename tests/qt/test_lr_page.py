"""Learning-rate page: a real LR finder run on tiny data, then choosing a rate
by dragging, clicking a marker, a suggestion button and typing."""
from __future__ import annotations

import math
import multiprocessing
import os

import numpy as np
import pytest
import train_targets
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from tlstudio.core.config import TrainConfig
from tlstudio.core.events import LrFindProgress, Message
from tlstudio.core.jobs.training import ModelDigestJob
from tlstudio.qt import engine
from tlstudio.qt.app_state import AppState
from tlstudio.qt.pages.lr_page import LrPage, lr_find_task

FIND_TIMEOUT_MS = 180_000  # generous: a loaded 2-core machine can be 10x slower
NUM_IT = 25


@pytest.fixture
def lr_page(qtbot, tiny_spec, tiny_config):
    state = AppState()
    state.set_dataset(tiny_spec)
    state.update_train_config(**{f: getattr(tiny_config, f) for f in ("augment", "bs", "device", "seed")})
    page = LrPage(state)
    page.options = {"num_it": NUM_IT}
    page.resize(1100, 760)
    qtbot.addWidget(page)
    page.show()
    yield page
    page.shutdown()


def run_and_wait(qtbot, page):
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert page.is_running() and not page.run_button.isEnabled() and page.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not page.is_running() and page.run_button.isEnabled(), timeout=FIND_TIMEOUT_MS)
    return page.results.get(page.stage())


def view_pos(page, log_lr: float, loss: float) -> QPoint:
    """Where a point of the plot's data space is on the plot widget's viewport."""
    vb = page.plot.plot.getViewBox()
    scene = vb.mapViewToScene(QPointF(log_lr, loss))
    return page.plot.plot_widget.mapFromScene(scene)


def send_mouse(widget, kind, pos: QPoint, buttons) -> None:
    button = Qt.MouseButton.LeftButton
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_stage1_finder_shows_curve_and_four_suggestions_and_every_way_to_choose(qtbot, lr_page, artifacts_dir):
    page, state = lr_page, lr_page.state
    result = run_and_wait(qtbot, page)
    assert result is not None and result.stage == 1 and not result.cancelled
    assert 2 < len(result.lrs) <= NUM_IT

    # The curve is the smoothed loss against the rates (log x: pyqtgraph draws log10).
    xs, ys = page.plot.curve.getData()
    assert np.allclose(xs, np.log10(result.lrs)) and np.allclose(ys, result.smooth_losses)
    assert page.plot.plot.getAxis("bottom").logMode
    # Four labelled markers, one per suggestion, each at its point on the curve.
    names = {s.name for s in result.suggestions}
    assert names == {"valley", "slide", "minimum", "steep"}, result.skipped
    assert set(page.plot.markers) == names
    for s in result.suggestions:
        (pt,) = page.plot.markers[s.name].points()
        # Each marker sits at the rate it suggests, on the curve; for fastai's
        # minimum that is lr_min/10, not the lr_min fastai marks.
        assert pt.pos().x() == pytest.approx(math.log10(s.lr))
        on_curve = np.interp(math.log10(s.lr), np.log10(result.lrs), result.smooth_losses)
        assert pt.pos().y() == pytest.approx(s.point_loss if s.lr == s.point_lr else on_curve)
        assert s.name in page.plot.marker_labels[s.name].toPlainText()
        assert page.suggestion_buttons[s.name].isEnabled()
        assert page.suggestion_buttons[s.name].toolTip().startswith(s.name)
    minimum = result.suggestion("minimum")
    assert minimum.lr == pytest.approx(minimum.point_lr / 10)
    assert "one tenth" in page.plot.markers["minimum"].opts["tip"](x=0, y=0, data=None)
    # No two suggestion labels overlap, and none leaves the plot.
    qtbot.wait(50)
    view = page.plot.plot.getViewBox().sceneBoundingRect()
    boxes = {n: label.sceneBoundingRect() for n, label in page.plot.marker_labels.items()}
    for a in boxes:
        assert view.contains(boxes[a]), a
        for b in boxes:
            assert a == b or not boxes[a].intersects(boxes[b]), (a, b)
    chosen = page.plot.line.label.sceneBoundingRect()  # the chosen rate's label has a row of its own
    assert page.plot.line.isVisible() and view.contains(chosen)
    assert not [name for name, box in boxes.items() if box.intersects(chosen)]
    for label in page.plot.marker_labels.values():  # on a white ground over the dashed line that may cross it
        assert label.fill.color().alpha() > 128 and label.zValue() > page.plot.line.zValue()
    # Tick labels in one form.
    axis = page.plot.plot.getAxis("bottom")
    assert axis.logTickStrings([-4, math.log10(3e-4), -3, 0], 1, 1) == ["1e-4", "3e-4", "1e-3", "1e0"]
    legend = [label.text for _sample, label in page.plot.legend.items]
    assert len(legend) == 5 and all(any(n in text for text in legend) for n in names)
    qtbot.wait(50)  # let the relabelled buttons lay out before the screenshot
    page.grab().save(str(artifacts_dir / "lr_page_stage1_suggestions.png"))

    # Finishing picks fastai's default suggestion for the head rate.
    valley = result.suggestion("valley").lr
    assert state.train_config.head_lr == pytest.approx(valley)
    assert page.plot.rate() == pytest.approx(valley)
    assert page.status.text().startswith(f"Chose valley ({valley:.2e})")

    # Dragging the line with the mouse sets the head rate to where it is released.
    qtbot.waitUntil(lambda: page.plot.plot_widget.viewport().width() > 100)
    viewport = page.plot.plot_widget.viewport()
    y_mid = float(np.median(result.smooth_losses))
    start = view_pos(page, math.log10(valley), y_mid)
    target_x = math.log10(result.lrs[len(result.lrs) // 4])
    end = view_pos(page, target_x, y_mid)
    send_mouse(viewport, QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    for f in np.linspace(0, 1, 6)[1:]:
        step = QPoint(round(start.x() + f * (end.x() - start.x())), start.y())
        send_mouse(viewport, QEvent.Type.MouseMove, step, Qt.MouseButton.LeftButton)
    send_mouse(viewport, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)
    dragged = state.train_config.head_lr
    assert dragged != pytest.approx(valley)
    assert math.log10(dragged) == pytest.approx(target_x, abs=0.15)  # within a few pixels
    assert page.plot.line.label.toPlainText() == f"chosen {dragged:.2e}"
    assert page.head_edit.text() == f"{dragged:.2e}"
    assert page.status.text() == f"Chose {dragged:.2e} by hand as the stage 1 head rate."  # not "Chose valley" any more

    # The line's own drag signal (as pyqtgraph emits it) does the same.
    page.plot.line.setValue(math.log10(3e-3))
    page.plot.line.sigPositionChangeFinished.emit(page.plot.line)
    assert state.train_config.head_lr == pytest.approx(3e-3)

    # Clicking a marker snaps to its suggestion.
    steep = result.suggestion("steep")
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=view_pos(page, math.log10(steep.point_lr), steep.point_loss))
    assert state.train_config.head_lr == pytest.approx(steep.lr)
    assert page.plot.rate() == pytest.approx(steep.lr)
    assert page.status.text() == f"Chose steep ({steep.lr:.2e}) as the stage 1 head rate."

    # A button per suggestion, and a typed value, do too.
    qtbot.mouseClick(page.suggestion_buttons["minimum"], Qt.MouseButton.LeftButton)
    assert state.train_config.head_lr == pytest.approx(result.suggestion("minimum").lr)
    page.head_edit.setFocus()
    page.head_edit.selectAll()
    qtbot.keyClicks(page.head_edit, "4.5e-4")
    qtbot.keyClick(page.head_edit, Qt.Key.Key_Return)
    assert state.train_config.head_lr == pytest.approx(4.5e-4)
    assert page.plot.rate() == pytest.approx(4.5e-4)
    assert page.status.text() == "Typed 4.50e-04 as the stage 1 head rate."
    assert page.rate_warning.isHidden()

    # A rate of 5 is taken, with a warning, and the view widens so its line and label show whole.
    page.head_edit.selectAll()
    qtbot.keyClicks(page.head_edit, "5")
    qtbot.keyClick(page.head_edit, Qt.Key.Key_Return)
    assert state.train_config.head_lr == 5
    assert page.rate_warning.isVisible() and "5.00e+00 is above 1" in page.rate_warning.text()
    qtbot.wait(50)
    assert view.contains(page.plot.line.label.sceneBoundingRect())
    assert page.plot.plot.viewRange()[0][1] > math.log10(5)
    assert state.train_config.base_lr == TrainConfig().base_lr  # stage 1 never touches stage 2's rate


def test_stage2_probes_a_copy_of_the_trained_model_and_sets_the_top_rate(qtbot, lr_page, trained_result):
    page, state = lr_page, lr_page.state
    state.update_train_config(unfreeze_depth=2)
    state.set_training(trained_result)
    assert "copy of the trained model" in page.stage2_note.text()
    assert "last 2 layer groups" in page.stage2_radio.text()
    held_model = ModelDigestJob(trained_result.model.id)
    before, frozen_before = engine.host().run(held_model)  # the weights and freeze state held in the engine
    head_before = state.train_config.head_lr
    page.set_stage(2)
    result = run_and_wait(qtbot, page)
    assert result is not None and result.stage == 2 and result.depth == 2
    assert page.results[2] is result and set(page.plot.markers) == {s.name for s in result.suggestions}
    assert state.train_config.base_lr == pytest.approx(result.suggestion("valley").lr)
    assert state.train_config.head_lr == head_before  # stage 2 leaves the head rate alone
    assert "slice(" in page.slice_label.text() and f"{state.train_config.base_lr:.2e}" in page.slice_label.text()
    # The trained learner itself was not touched.
    after, frozen_after = engine.host().run(held_model)
    assert after == before and frozen_after == frozen_before
    state.update_train_config(unfreeze_depth=3)  # the curve no longer matches the depth
    assert "run it again for the new depth" in page.stage2_note.text()
    state.update_train_config(unfreeze_depth=2)
    assert "run it again" not in page.stage2_note.text()
    # Switching back shows stage 1's (absent) curve and stage 2's again.
    page.set_stage(1)
    assert page.plot.markers == {}
    page.set_stage(2)
    assert len(page.plot.markers) == len(result.suggestions)


def test_cancel_stops_the_finder_and_keeps_a_partial_curve(qtbot, lr_page, artifacts_dir):
    page = lr_page
    HELD_AT = 8  # noqa: N806
    seen = []

    def held(spec, config, stage, trained, options, reporter):
        class Record:  # what reaches the page from the finder's process
            def emit(self, ev):
                reporter.emit(ev)
                seen.append(ev)

            def cancel_requested(self):
                return reporter.cancel_requested()

        # Held inside the finder's process after step HELD_AT until the page cancels.
        hold = lambda job: train_targets.HoldLrFind(job, HELD_AT)  # noqa: E731
        return lr_find_task(spec, config, stage, trained, options, Record(), wrap=hold)

    page.task_fn = held
    page.run_finder()
    qtbot.waitUntil(lambda: sum(isinstance(e, LrFindProgress) for e in seen) >= HELD_AT, timeout=FIND_TIMEOUT_MS)
    qtbot.waitUntil(lambda: page.status.text().startswith("Probing") and len(page.plot.curve.getData()[0]) == HELD_AT, timeout=5_000)
    assert page.status.text().startswith(f"Probing: step {HELD_AT}/{NUM_IT},") and " left" in page.status.text()
    assert "estimating" not in page.status.text()  # an ETA from the steps so far
    assert not page.plot.is_empty()
    page.grab().save(str(artifacts_dir / "lr_page_running.png"))  # the live curve while it probes
    qtbot.keyClick(page.plot, Qt.Key.Key_Escape)  # Esc cancels, as the Cancel button does
    qtbot.waitUntil(lambda: not page.is_running() and page.run_button.isEnabled(), timeout=FIND_TIMEOUT_MS)
    result = page.results[1]
    assert result.cancelled and len(result.lrs) == HELD_AT  # stopped in the step it was in
    assert "Cancelled" in page.status.text()
    assert len(page.plot.curve.getData()[0]) == HELD_AT


def test_the_empty_plot_says_what_to_do(lr_page):
    assert lr_page.plot.is_empty() and lr_page.plot.empty.isVisible()
    assert "Run the LR finder" in lr_page.plot.empty.text()


def test_the_finder_runs_in_the_process_the_shown_page_readied(qtbot, lr_page, engine_ends_on_close):
    page = lr_page  # shown, with a dataset
    ready = [c.pid for c in multiprocessing.active_children()]
    assert len(ready) == 1
    said = []

    def task(spec, config, stage, trained, options, reporter):
        class Record:
            def emit(self, ev):
                reporter.emit(ev)
                said.extend([int(ev.text)] if isinstance(ev, Message) and ev.text.isdigit() else [])

            def cancel_requested(self):
                return reporter.cancel_requested()

        return lr_find_task(spec, config, stage, trained, options, Record(), wrap=train_targets.SaysPid)

    page.task_fn = task
    result = run_and_wait(qtbot, page)
    assert said == ready and ready[0] != os.getpid()  # not the window's process
    assert result is not None and len(result.lrs) > 0 and page.results[1] is result
    page.shutdown()
    assert multiprocessing.active_children() == []
