"""The LR finder curve with its four suggestions and a draggable chosen rate.

The x axis is in log mode, so every x position on it (the line, the markers,
the labels) is log10 of a learning rate; only the curve itself is handed raw
rates and transformed by pyqtgraph.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QStackedLayout, QWidget

# One colour per suggestion, readable on a white background and to most colour-blind eyes.
SUGGESTION_COLOURS = {
    "valley": "#d62728",
    "slide": "#2ca02c",
    "minimum": "#9467bd",
    "steep": "#ff7f0e",
}
SUGGESTION_SYMBOLS = {"valley": "o", "slide": "s", "minimum": "t", "steep": "d"}
# What each suggestion means, for tooltips on its marker and its button.
SUGGESTION_TIPS = {
    "valley": "valley (fastai's default): the middle of the longest stretch where the loss keeps falling",
    "slide": "slide: where the slope of the loss stops changing, going back from the end of the curve",
    "minimum": "minimum: one tenth of the rate with the lowest loss (fastai's rule of thumb)",
    "steep": "steep: where the loss falls fastest",
}
EMPTY_TEXT = "Run the LR finder to see the loss against the learning rate, with fastai's four suggestions."
LABEL_ROW = 0.11  # suggestion labels sit in rows this share of the y range apart, so none overlaps another
LABEL_FILL = (255, 255, 255, 220)
LINE_Z = 20  # the chosen line: above the curve and the markers


def format_lr(lr: float) -> str:
    return f"{lr:.2e}"


def format_tick(lr: float) -> str:
    """Axis ticks in one short form: 1e-4, 3e-4, 1e-3."""
    mantissa, exponent = f"{lr:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def marker_point(s, lrs: np.ndarray, losses: np.ndarray) -> tuple[float, float]:
    """Where a suggestion's marker goes: at the rate it suggests, on the curve.

    fastai's `minimum` suggests lr_min/10 but marks lr_min; drawing it at
    lr_min would put it a decade away from the rate a click on it chooses."""
    x = math.log10(s.lr)
    if math.isclose(s.lr, s.point_lr, rel_tol=1e-9) or len(lrs) < 2:
        return x, s.point_loss
    return x, float(np.interp(x, np.log10(lrs), losses))


class RateAxis(pg.AxisItem):
    def logTickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph name)
        return [format_tick(10 ** float(v) * scale) for v in values]


class LrPlot(QWidget):
    """Smoothed loss against learning rate; emits `rate_chosen` when the user picks one.

    The user picks by dragging the vertical line (on release) or by clicking a
    suggestion marker. `set_rate` moves the line without emitting.
    """

    rate_chosen = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot_widget = pg.GraphicsLayoutWidget()
        self.plot_widget.setBackground("w")
        self.plot = self.plot_widget.addPlot(row=0, col=0, axisItems={"bottom": RateAxis("bottom")})
        self.plot.setLogMode(x=True, y=False)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "learning rate")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)  # log ticks read 10^-n; a "x1e-09" scale only confuses
        self.plot.setLabel("left", "loss (smoothed)")
        self.plot.setMenuEnabled(False)
        # Beside the plot, not on it: a noisy curve can put markers anywhere.
        self.legend = pg.LegendItem(labelTextColor="#333")
        self.legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        side = self.plot_widget.addLayout(row=0, col=1)
        side.setMaximumWidth(190)
        side.addItem(self.legend, row=0, col=0)
        side.addItem(pg.GraphicsWidget(), row=1, col=0)  # takes the spare height below the legend
        side.layout.setRowStretchFactor(1, 1)
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2))
        self.legend.addItem(self.curve, "smoothed loss")
        self.markers: dict[str, pg.ScatterPlotItem] = {}
        self.marker_labels: dict[str, pg.TextItem] = {}
        self._stems: dict[str, pg.PlotCurveItem] = {}
        self._curve_range: tuple[float, float] | None = None  # log10 of the rates the curve spans
        self._suggestions: dict[str, float] = {}
        self.line = pg.InfiniteLine(
            angle=90,
            movable=True,
            pen=pg.mkPen("#444", width=2, style=pg.QtCore.Qt.PenStyle.DashLine),
            hoverPen=pg.mkPen("#000", width=3),
            label="",
            labelOpts={"position": 0.95, "color": "#222", "fill": LABEL_FILL, "movable": True},
        )
        self.line.setZValue(LINE_Z)
        self.line.hide()
        self.plot.addItem(self.line, ignoreBounds=True)
        self.line.sigPositionChanged.connect(self._update_line_label)
        self.line.sigPositionChangeFinished.connect(self._line_released)
        self.empty = QLabel(EMPTY_TEXT, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty.setStyleSheet("color: #666; background: white; border: 1px solid #ddd; font-size: 11pt;")
        self._stack = QStackedLayout(self)
        self._stack.setContentsMargins(0, 0, 0, 0)
        self._stack.addWidget(self.empty)
        self._stack.addWidget(self.plot_widget)

    def is_empty(self) -> bool:
        return self._stack.currentWidget() is self.empty

    # -- data -------------------------------------------------------------
    def clear(self) -> None:
        self.curve.setData([], [])
        for name in list(self.markers):
            scatter = self.markers.pop(name)
            self.legend.removeItem(scatter)
            self.plot.removeItem(scatter)
            self.plot.removeItem(self.marker_labels.pop(name))
            self.plot.removeItem(self._stems.pop(name))
        self._suggestions = {}
        self._curve_range = None
        self.line.hide()
        self._stack.setCurrentWidget(self.empty)

    def show_progress(self, lrs: list[float], losses: list[float], lr_range: tuple[float, float] = (1e-7, 10)) -> None:
        """The curve as it grows while the finder runs, across the whole range it will sweep."""
        if lrs:
            self._stack.setCurrentWidget(self.plot_widget)
            self.curve.setData(np.asarray(lrs), np.asarray(losses))
            self._fit_y(np.asarray(losses))
            self.plot.setXRange(math.log10(lr_range[0]), math.log10(lr_range[1]), padding=0.02)

    def show_result(self, result) -> None:
        """Draw an `LrFindResult`: the curve and one labelled marker per suggestion."""
        self.clear()
        lrs = np.asarray(result.lrs, dtype=float)
        losses = np.asarray(result.smooth_losses, dtype=float)
        ok = np.isfinite(lrs) & np.isfinite(losses) & (lrs > 0)
        self.curve.setData(lrs[ok], losses[ok])
        self._stack.setCurrentWidget(self.plot_widget)
        self._fit_y(losses[ok])
        if len(lrs[ok]):
            # minimum's lr_min/10 can lie left of a short curve: keep every suggestion in view.
            xs = [math.log10(lrs[ok].min()), math.log10(lrs[ok].max())] + [math.log10(s.lr) for s in result.suggestions]
            self._curve_range = (min(xs), max(xs))
            self.plot.setXRange(*self._curve_range, padding=0.02)
        # Labels in rows from the top of the view down, in order along the
        # curve: suggestions that sit close together (slide and minimum may
        # coincide) never overlap. The top row is the chosen line's label's.
        y_low, y_high = self.plot.viewRange()[1]
        for row, s in enumerate(sorted(result.suggestions, key=lambda s: s.lr), start=1):
            self._add_marker(s, marker_point(s, lrs[ok], losses[ok]), y_high - (0.06 + LABEL_ROW * row) * (y_high - y_low))
        for s in result.suggestions:  # the legend in fastai's order
            self.legend.addItem(self.markers[s.name], f"{s.name}: {format_lr(s.lr)}")

    def _add_marker(self, s, point: tuple[float, float], label_y: float) -> None:
        colour = SUGGESTION_COLOURS.get(s.name, "#000")
        x, y = point
        tip = SUGGESTION_TIPS.get(s.name, s.name) + f"\n{format_lr(s.lr)}; click to use it"
        if s.name == "minimum":
            tip += f"\n(the lowest loss is at {format_lr(s.point_lr)})"
        scatter = pg.ScatterPlotItem(
            [x], [y], size=14, symbol=SUGGESTION_SYMBOLS.get(s.name, "o"),
            brush=pg.mkBrush(colour), pen=pg.mkPen("#fff", width=1.5), hoverable=True,
            hoverSize=18, tip=lambda text=tip, **_where: text,
        )
        scatter.setZValue(10)
        scatter.sigClicked.connect(lambda *_a, name=s.name: self.choose_suggestion(name))
        x_low, x_high = self._curve_range or (x, x)
        right_half = x > (x_low + x_high) / 2  # a label points into the plot, never past its edge
        label = pg.TextItem(
            f"{s.name} {format_lr(s.lr)}", color=colour, anchor=(1.0, 0.5) if right_half else (0.0, 0.5), fill=LABEL_FILL,
        )
        label.setPos(x, label_y)
        label.setZValue(LINE_Z + 1)  # a label reaching across the chosen line stays readable over it
        stem = pg.PlotCurveItem([x, x], [y, label_y], pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DotLine))
        self.plot.addItem(stem)
        self.plot.addItem(scatter)
        self.plot.addItem(label)
        self.markers[s.name] = scatter
        self.marker_labels[s.name] = label
        self._stems[s.name] = stem
        self._suggestions[s.name] = s.lr

    def _fit_y(self, losses: np.ndarray) -> None:
        """Keep the interesting part in view: the divergent tail would flatten the dip."""
        finite = losses[np.isfinite(losses)]
        if not len(finite):
            return
        low = float(finite.min())
        start = float(np.median(finite[: max(3, len(finite) // 10)]))
        high = max(start * 1.15, low + 1e-3)
        self.plot.setYRange(low - 0.08 * (high - low), high, padding=0)

    # -- the chosen rate ---------------------------------------------------
    def choose_suggestion(self, name: str) -> None:
        lr = self._suggestions[name]
        self.set_rate(lr)
        self.rate_chosen.emit(lr)

    def set_rate(self, lr: float | None) -> None:
        if lr is None or not (lr > 0):
            self.line.hide()
            return
        x = math.log10(lr)
        self.line.blockSignals(True)
        self.line.setValue(x)
        self.line.blockSignals(False)
        self.line.show()  # the label only redraws while visible
        self._update_line_label()
        if self._curve_range is not None:  # a rate off the curve: widen the view so its line and label show
            low, high = self._curve_range
            self.plot.setXRange(min(low, x - 0.3), max(high, x + 0.3), padding=0.02)

    def rate(self) -> float:
        return 10 ** self.line.value()

    def suggestion_rates(self) -> dict[str, float]:
        return dict(self._suggestions)

    def _update_line_label(self, *_args) -> None:
        self.line.label.setFormat(f"chosen {format_lr(self.rate())}")

    def _line_released(self, *_args) -> None:
        self.rate_chosen.emit(self.rate())
