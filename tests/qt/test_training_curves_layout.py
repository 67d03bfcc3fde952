"""The Train page's plots after a real run, at every window size: legends above the
axes (never over a curve) with every entry whole, the stage marker named there
rather than by a label over the curves, whole epochs on the epoch axis; and the status bar's summary of the run fits the bar."""
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
    marker = "stage 2 starts"
    expected = {curves.loss_widget: ["train (smoothed)", "valid", marker],
                curves.metric_widget: [*first_epoch.metrics, marker], curves.lr_widget: [marker]}
    assert expected[curves.metric_widget] == ["accuracy", "error_rate", "f1_macro", marker]
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
            if plot is not curves.lr_widget:  # the schedule is a short strip by design
                assert data.height() >= 60, f"{width}x{height}: the header leaves the curves {data.height()} px"
        assert clipped(trained_window) == []


def test_stage_markers_are_lines_inside_their_plots_with_nothing_drawn_over_the_curves(qtbot, trained_window):
    curves = trained_window.pages["train"].curves
    lines = [*curves.stage_lines, curves.metric_stage_line]
    for width, height in SIZES:
        trained_window.resize(width, height)
        qtbot.wait(50)
        for line in lines:
            box = line.getViewBox().sceneBoundingRect()
            x = line.scenePos().x()
            assert line.isVisible() and box.left() < x < box.right(), f"{width}x{height}: the stage line is off its plot"
            # What is drawn over the axes besides the curves: the line alone, no text on a ground.
            assert [c for c in line.childItems() if c.isVisible()] == []


def test_the_epoch_axis_ticks_whole_epochs_only(qtbot, trained_window):
    curves = trained_window.pages["train"].curves
    axis = curves.metric_plot.getAxis("bottom")
    for width, height in SIZES:
        trained_window.resize(width, height)
        qtbot.wait(50)
        low, high = curves.metric_plot.vb.viewRange()[0]
        ticks = [v for _spacing, values in axis.tickValues(low, high, axis.width()) for v in values]
        assert ticks and all(float(v).is_integer() for v in ticks), f"{width}x{height}: {ticks}"
        assert {1.0, 2.0}.issubset(ticks)


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


@pytest.mark.parametrize("stage1_batches", [2, 58])
def test_a_stage_line_near_an_edge_is_named_whole_in_the_legend(qtbot, stage1_batches):
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(840, 420)
    curves.show()
    fill(curves, stage1_batches, 60 - stage1_batches)
    qtbot.wait(50)
    for line, plot in zip(curves.stage_lines, (curves.loss_widget, curves.lr_widget)):
        box = line.getViewBox().sceneBoundingRect()
        assert box.left() < line.scenePos().x() < box.right()
        names = [label.text for _sample, label in plot.legend.items]
        assert names[-1] == "stage 2 starts" and plot.legend.isVisible()
        _sample, label = plot.legend.items[-1]
        assert scene_rect(plot).contains(label.sceneBoundingRect())
        assert not plot.legend.sceneBoundingRect().intersects(box)
    curves.reset()  # a new run: no marker until its stage 2
    assert [label.text for _s, label in curves.lr_widget.legend.items] == []
    assert not curves.lr_widget.legend.isVisible()


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
