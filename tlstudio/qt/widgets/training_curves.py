"""Live training curves: loss per batch and per epoch, metrics per epoch, LR schedule.

Events are only recorded into lists (cheap, called once per event); `flush()`
pushes them to the plots and is meant to be called by a timer, so the plots
redraw at most as often as that timer fires however fast batches arrive.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsItem, QSplitter, QVBoxLayout, QWidget

from tlstudio.qt.widgets.titled_plot import TitledPlot

METRIC_COLOURS = ("#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
TRAIN_COLOUR, VALID_COLOUR, LR_COLOUR, STAGE_COLOUR = "#1f77b4", "#ff7f0e", "#7f7f7f", "#555555"


def _growing_curve(plot: pg.PlotItem, colour: str, name: str | None, symbol: str | None = None) -> pg.PlotDataItem:
    curve = plot.plot(
        [], [], pen=pg.mkPen(colour, width=2), name=name,
        symbol=symbol, symbolSize=7, symbolBrush=colour, symbolPen=None,
    )
    # Long runs have many thousand batches: draw only what is visible, peak-preserving.
    curve.setClipToView(True)
    curve.setDownsampling(auto=True, method="peak")
    return curve


def _cache_axes(plot: pg.PlotItem) -> None:
    """Axes repaint from a cached pixmap unless their range changed: drawing
    tick text is most of a plot's repaint cost (measured: ~40% less CPU)."""
    for name in ("left", "bottom"):
        plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


STAGE_PEN = pg.mkPen(STAGE_COLOUR, width=1.5, style=Qt.PenStyle.DashLine)
STAGE_NAME = "stage 2 starts"


def _stage_line(plot: pg.PlotItem) -> pg.InfiniteLine:
    # Named in the plot's legend, not by a label on the line: a label inside the axes hides
    # whichever curve runs under it, and stage 2 is where the curves change most.
    line = pg.InfiniteLine(angle=90, movable=False, pen=STAGE_PEN)
    line.hide()
    plot.addItem(line, ignoreBounds=True)
    return line


class TrainingCurves(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # Titles and legends above the axes (TitledPlot): a legend inside would cover curves.
        self.loss_widget = TitledPlot("Loss", "iteration")
        self.loss_plot = self.loss_widget.plot_item
        self.train_curve = _growing_curve(self.loss_plot, TRAIN_COLOUR, "train (smoothed)")
        self.valid_curve = _growing_curve(self.loss_plot, VALID_COLOUR, "valid", symbol="o")
        self.loss_widget.fit_legend()

        self.metric_widget = TitledPlot("Metrics (validation)", "epoch", integer_x=True)
        self.metric_plot = self.metric_widget.plot_item
        self.metric_curves: dict[str, pg.PlotDataItem] = {}

        # Its x axis is the loss plot's; the title names it, so the axes keep the height.
        self.lr_widget = TitledPlot("Learning rate (head group), by iteration")
        self.lr_plot = self.lr_widget.plot_item
        self.lr_curve = _growing_curve(self.lr_plot, LR_COLOUR, None)

        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            _cache_axes(plot)
        self.stage_lines = [_stage_line(self.loss_plot), _stage_line(self.lr_plot)]
        self.metric_stage_line = _stage_line(self.metric_plot)
        self._stage_plots = {id(self.stage_lines[0]): self.loss_widget, id(self.stage_lines[1]): self.lr_widget,
                             id(self.metric_stage_line): self.metric_widget}

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.loss_widget)
        top.addWidget(self.metric_widget)
        top.setSizes([550, 450])
        outer = QSplitter(Qt.Orientation.Vertical)
        outer.addWidget(top)
        outer.addWidget(self.lr_widget)
        outer.setSizes([300, 110])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(outer)
        self.reset()

    def reset(self) -> None:
        self.iterations: list[int] = []
        self.smooth_losses: list[float] = []
        self.lrs: list[float] = []
        self.epoch_iterations: list[int] = []
        self.valid_losses: list[float] = []
        self.epochs: list[int] = []
        self.metrics: dict[str, list[float]] = {}
        self.stage2_iteration: float | None = None
        self.stage2_epoch: float | None = None
        self.redraws = 0
        self._dirty = dict.fromkeys(self.PARTS, True)
        for name in list(self.metric_curves):
            self.metric_plot.removeItem(self.metric_curves.pop(name))
        self.metric_widget.fit_legend()
        self.flush()

    # -- recording (once per event, no drawing) ----------------------------
    def add_batch(self, ev) -> None:
        self.iterations.append(ev.iteration)
        self.smooth_losses.append(ev.smooth_loss)
        self.lrs.append(ev.lr)
        self._mark("loss", "lr")

    def add_epoch(self, ev) -> None:
        self.epoch_iterations.append(self.iterations[-1] if self.iterations else 0)
        self.valid_losses.append(ev.valid_loss)
        self.epochs.append(ev.global_epoch + 1)
        for name, value in ev.metrics.items():
            # A metric missing in earlier epochs would shift its points: pad with NaN.
            values = self.metrics.setdefault(name, [np.nan] * (len(self.epochs) - 1))
            values.append(value)
        self._mark("loss", "metrics")

    def start_stage(self, ev) -> None:
        if ev.stage == 2 and (self.iterations or self.epochs):
            last = self.iterations[-1] if self.iterations else 0
            self.stage2_iteration = last + 0.5
            self.stage2_epoch = len(self.epochs) + 0.5
            self._mark(*self.PARTS)

    # -- drawing ------------------------------------------------------------
    PARTS = ("loss", "lr", "metrics")

    def flush(self, parts: tuple[str, ...] = PARTS) -> None:
        """Push what was recorded since the last flush to the plots in `parts`.

        A plot is touched only when its data changed: repainting a plot (its
        axes' text above all) is what the GUI thread spends its time on, so a
        caller may also spread the plots over separate event-loop turns."""
        drew = False
        if "loss" in parts and self._dirty["loss"]:
            self.train_curve.setData(np.asarray(self.iterations, float), np.asarray(self.smooth_losses, float))
            self.valid_curve.setData(np.asarray(self.epoch_iterations, float), np.asarray(self.valid_losses, float))
            self._place_stage_line(self.stage_lines[0], self.stage2_iteration)
            drew = True
        if "lr" in parts and self._dirty["lr"]:
            self.lr_curve.setData(np.asarray(self.iterations, float), np.asarray(self.lrs, float))
            self._place_stage_line(self.stage_lines[1], self.stage2_iteration)
            drew = True
        if "metrics" in parts and self._dirty["metrics"]:
            for i, (name, values) in enumerate(self.metrics.items()):
                curve = self.metric_curves.get(name)
                if curve is None:
                    colour = METRIC_COLOURS[i % len(METRIC_COLOURS)]
                    curve = self.metric_curves[name] = _growing_curve(self.metric_plot, colour, name, symbol="o")
                    self.metric_widget.fit_legend()
                curve.setData(np.asarray(self.epochs, float), np.asarray(values, float))
            self._place_stage_line(self.metric_stage_line, self.stage2_epoch)
            drew = True
        for part in parts:
            self._dirty[part] = False
        self.redraws += drew

    def _place_stage_line(self, line: pg.InfiniteLine, x: float | None) -> None:
        line.setVisible(x is not None)
        self._stage_plots[id(line)].show_marker(STAGE_NAME, STAGE_PEN, x is not None)
        if x is not None:
            line.setValue(x)

    def changed_parts(self) -> tuple[str, ...]:
        """The plots whose data changed since they were last drawn."""
        return tuple(part for part in self.PARTS if self._dirty[part])

    def _mark(self, *parts: str) -> None:
        for part in parts:
            self._dirty[part] = True

    def point_counts(self) -> dict[str, int]:
        """How many points each drawn curve holds (what the user sees)."""
        counts = {
            "train_loss": len(self.train_curve.xData if self.train_curve.xData is not None else []),
            "valid_loss": len(self.valid_curve.xData if self.valid_curve.xData is not None else []),
            "lr": len(self.lr_curve.xData if self.lr_curve.xData is not None else []),
        }
        for name, curve in self.metric_curves.items():
            counts[name] = len(curve.xData if curve.xData is not None else [])
        return counts
