"""The layout check itself: each kind of problem it looks for is found when it is there."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from layout_check import clipped
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QMainWindow, QSizePolicy, QStatusBar, QVBoxLayout, QWidget

from tlstudio.qt.widgets.gallery_view import Gallery


def shown(qtbot, widget, width, height):
    """`widget` in a window of its own (the check looks at a window's children)."""
    window = QWidget()
    QVBoxLayout(window).addWidget(widget)
    qtbot.addWidget(window)
    window.resize(width, height)
    window.show()
    qtbot.wait(20)
    return window


LONG = "Completed 2 epochs; kept epoch 1 (stage 1 epoch 1, valid loss 0.6437, accuracy 0.833): " * 3


def test_a_status_message_wider_than_the_bar_is_found(qtbot):
    window = QMainWindow()
    window.setStatusBar(QStatusBar())  # Qt's own: it cuts a long message off
    qtbot.addWidget(window)
    window.resize(1024, 700)
    window.show()
    qtbot.wait(20)
    window.statusBar().showMessage("Opened the demo")
    assert clipped(window) == []
    window.statusBar().showMessage(LONG)
    problems = clipped(window)
    assert len(problems) == 1 and problems[0].startswith(f"QStatusBar '': message {LONG[:60]!r} needs"), problems


def test_a_legend_over_the_data_is_found_and_one_beside_it_is_not(qtbot):
    widget = pg.PlotWidget()
    window = shown(qtbot, widget, 500, 300)
    plot = widget.getPlotItem()
    plot.addLegend(offset=(10, 10))  # inside the axes, where pyqtgraph puts it
    plot.plot(np.arange(10.0), np.arange(10.0), name="train")
    qtbot.wait(20)
    assert clipped(window) == ["PlotWidget '': legend (train) lies over a plot's data"]

    beside = pg.GraphicsLayoutWidget()
    window = shown(qtbot, beside, 500, 300)
    item = beside.addPlot(row=0, col=0)
    legend = pg.LegendItem()
    beside.addItem(legend, row=0, col=1)
    legend.addItem(item.plot(np.arange(10.0), np.arange(10.0)), "train")
    qtbot.wait(20)
    assert clipped(window) == []


def test_a_label_cut_off_by_its_plot_and_labels_over_each_other_are_found(qtbot):
    widget = pg.PlotWidget()
    window = shown(qtbot, widget, 400, 300)
    plot = widget.getPlotItem()
    plot.setXRange(0, 10, padding=0)
    plot.setYRange(0, 10, padding=0)
    first = pg.TextItem("slide 3.31e-04", anchor=(0, 0.5))
    first.setPos(2, 5)
    plot.addItem(first)
    qtbot.wait(20)
    assert clipped(window) == []
    second = pg.TextItem("chosen 5.75e-04", anchor=(0, 0.5))
    second.setPos(2.5, 5)
    plot.addItem(second)
    qtbot.wait(20)
    problems = clipped(window)
    assert len(problems) == 1 and "overlap" in problems[0], problems
    assert "'slide 3.31e-04'" in problems[0] and "'chosen 5.75e-04'" in problems[0]
    second.setPos(9.5, 2)  # runs past the right edge
    qtbot.wait(20)
    assert clipped(window) == ["PlotWidget '': label 'chosen 5.75e-04' is cut off by its plot"]


def test_an_elided_thumbnail_caption_is_found(qtbot, demo_spec):
    gallery = Gallery(thumb_size=QSize(56, 56))
    window = shown(qtbot, gallery, 500, 190)
    gallery.set_spec(demo_spec)
    qtbot.wait(20)
    assert clipped(window) == []
    gallery.view.setGridSize(QSize(72, 82))  # the cell the thumbnail alone would need
    qtbot.wait(20)
    name = gallery.model.index(0, 0).data()
    assert any(f"caption {name!r} needs" in p and "has 72" in p for p in clipped(window)), clipped(window)


def test_a_wrapped_labels_word_wider_than_the_label_is_found(qtbot):
    label = QLabel("sha256 5f8b3cff65c11446359f4de1585b626e1f6921921e64f5d", wordWrap=True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # a hash has nowhere to wrap
    window = shown(qtbot, label, 200, 80)
    problems = clipped(window)
    assert len(problems) == 1 and "a word needs" in problems[0], problems
    label.setText("a few short words that wrap onto a second line")
    qtbot.wait(20)
    assert clipped(window) == []
