"""The Train page's plots after a real run, at every window size: legends above the
axes (never over a curve) with every entry whole, stage markers' labels inside
their plots; and the status bar's summary of the run fits the bar."""
from __future__ import annotations

import dataclasses
import time

import pytest
from layout_check import clipped
from PySide6.QtCore import QRectF

from tlstudio.qt import engine
from tlstudio.core.events import BatchEnd, EpochEnd, StageStart
from tlstudio.qt.widgets.training_curves import TrainingCurves

SIZES = ((1024, 700), (1200, 800), (1600, 1000))


@pytest.fixture
def trained_window(qtbot, main_window, monkeypatch, tiny_spec, trained_run):
    """The window on the Train page, filled from a real run's events as they arrived."""
    monkeypatch.setattr(engine, "prestart", lambda: None)  # nothing here trains
    # A copy of the dataset: the page keeps a run on another dataset to itself, so no evaluation starts.
    main_window.state.set_dataset(dataclasses.replace(tiny_spec))
    train = main_window.pages["train"]
    train._started_at = time.monotonic()
    for event in trained_run.events:
        train._on_event(event)
    train._succeeded(trained_run.result)
    main_window.show()
    main_window.show_page("train")
    return main_window


def scene_rect(view) -> QRectF:
    return view.mapToScene(view.viewport().rect()).boundingRect()


def test_legends_sit_above_the_axes_whole_at_every_size(qtbot, trained_window, trained_run, artifacts_dir):
    curves = trained_window.pages["train"].curves
    first_epoch = next(e for e in trained_run.events if isinstance(e, EpochEnd))
    expected = {curves.loss_widget: ["train (smoothed)", "valid"], curves.metric_widget: list(first_epoch.metrics)}
    assert expected[curves.metric_widget] == ["accuracy", "error_rate", "f1_macro"]
    for width, height in SIZES:
        trained_window.resize(width, height)
        qtbot.wait(50)
        assert (trained_window.width(), trained_window.height()) == (width, height)
        trained_window.grab().save(str(artifacts_dir / f"train-curves-{width}x{height}.png"))
        for plot, names in expected.items():
            legend, data = plot.legend, plot.plot_item.vb.sceneBoundingRect()
            assert [label.text for _sample, label in legend.items] == names
            assert legend.isVisible()
            assert not legend.sceneBoundingRect().intersects(data), f"{width}x{height}: the legend covers the curves"
            assert not legend.sceneBoundingRect().intersects(plot.title.sceneBoundingRect())
            for sample, label in legend.items:  # every entry on screen, none cut off
                assert scene_rect(plot).contains(sample.sceneBoundingRect())
                assert scene_rect(plot).contains(label.sceneBoundingRect())
                assert label.sceneBoundingRect().width() >= label.item.boundingRect().width()
            assert data.height() >= 60, f"{width}x{height}: the header leaves the curves {data.height()} px"
        assert clipped(trained_window) == []


def test_stage_labels_stay_inside_their_plots_at_every_size(qtbot, trained_window):
    curves = trained_window.pages["train"].curves
    lines = [*curves.stage_lines, curves.metric_stage_line]
    for width, height in SIZES:
        trained_window.resize(width, height)
        qtbot.wait(50)
        for line in lines:
            assert line.isVisible() and line.label.isVisible() and line.label.toPlainText() == "stage 2"
            box = line.getViewBox().sceneBoundingRect()
            assert box.contains(line.label.sceneBoundingRect()), f"{width}x{height}: 'stage 2' is cut off"


def fill(curves: TrainingCurves, stage1_batches: int, stage2_batches: int) -> None:
    """Events shaped as training.run sends them: one epoch per stage."""
    iteration = 0
    for stage, batches in ((1, stage1_batches), (2, stage2_batches)):
        curves.start_stage(StageStart(stage, f"stage {stage}", 1, batches, stage, 5, (1e-3,)))
        for batch in range(batches):
            iteration += 1
            curves.add_batch(BatchEnd(stage, 0, batch, batches, iteration, 2.0 - iteration / 50, 1e-3, 100.0))
        curves.add_epoch(EpochEnd(stage, 0, 1, stage - 1, 1.5, 1.2, {"accuracy": 0.5 + stage / 10}, 1.0))
    curves.flush()


@pytest.mark.parametrize("stage1_batches, side", [(2, "right"), (58, "left")])
def test_a_stage_label_near_an_edge_turns_to_the_side_with_room(qtbot, stage1_batches, side):
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(840, 420)
    curves.show()
    fill(curves, stage1_batches, 60 - stage1_batches)
    qtbot.wait(50)
    for line in curves.stage_lines:  # iterations: the line is near one edge
        label, box = line.label.sceneBoundingRect(), line.getViewBox().sceneBoundingRect()
        x = line.scenePos().x()
        assert box.contains(label)
        assert (label.left() >= x - 1) if side == "right" else (label.right() <= x + 1)


def test_the_runs_summary_fits_the_status_bar_with_the_whole_of_it_in_the_tooltip(qtbot, trained_window, trained_run):
    bar, message = trained_window.statusBar(), trained_run.result.message
    long_message = f"{message}; {message}"  # longer than any of the three widths
    trained_window.state.status_message.emit(long_message)
    for width, height in SIZES:
        trained_window.resize(width, height)
        qtbot.wait(50)
        shown = bar.currentMessage()
        assert shown.endswith("…") and long_message.startswith(shown[:-1])
        assert bar.fontMetrics().horizontalAdvance(shown) <= bar.room()
        assert bar.toolTip() == long_message == bar.message()
        assert not [p for p in clipped(trained_window) if p.startswith("StatusBar")]
    trained_window.state.status_message.emit(message)  # the real one fits whole at 1600 px
    assert bar.currentMessage() == message and bar.toolTip() == ""
    trained_window.resize(1024, 700)
    qtbot.wait(50)
    assert bar.currentMessage() != message and bar.toolTip() == message  # elided again when the window shrinks
