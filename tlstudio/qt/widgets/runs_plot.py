"""One curve per run on shared axes: the Runs panel's overlay of validation loss or accuracy."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from tlstudio.qt.widgets.titled_plot import TitledPlot

# One colour per run, distinct from each other on white and in print (Tableau 10).
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


KEPT_COLOUR = "#333"


def run_colour(index: int) -> str:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


class RunsPlot(TitledPlot):
    def __init__(self, title: str, parent=None):
        super().__init__(title, "epoch", parent, integer_x=True)
        self.setMinimumHeight(150)
        self._curves: dict[str, pg.PlotDataItem] = {}
        self.kept: pg.PlotDataItem | None = None

    def show_runs(self, runs) -> None:
        """`runs`: (name, colour, epochs, values, kept epoch or None) each; what was drawn before goes.

        The kept epoch (the one whose weights the run's model has, with Keep best
        not always the last) is ringed: the run's final metrics are that epoch's."""
        self.clear_runs()
        kept_x, kept_y = [], []
        for name, colour, x, y, kept in runs:
            # Markers too: a short run has two or three epochs, and a line alone hides where they are.
            self._curves[name] = self.plot_item.plot(
                np.asarray(x, dtype=float), np.asarray(y, dtype=float), name=name,
                pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                symbolBrush=colour, symbolPen=colour, connect="finite")
            at = np.flatnonzero(np.asarray(x) == kept) if kept is not None else []
            if len(at):
                kept_x.append(float(np.asarray(x)[at[0]]))
                kept_y.append(float(np.asarray(y)[at[0]]))
        if kept_x:
            self.kept = self.plot_item.plot(kept_x, kept_y, pen=None, symbol="o", symbolSize=14, name="kept epoch",
                                            symbolBrush=None, symbolPen=pg.mkPen(KEPT_COLOUR, width=1.5))
        self.plot_item.enableAutoRange()
        self.fit_legend()

    def clear_runs(self) -> None:
        if self.kept is not None:
            self.plot_item.removeItem(self.kept)
            self.legend.removeItem(self.kept)
            self.kept = None
        for curve in self._curves.values():
            self.plot_item.removeItem(curve)
            self.legend.removeItem(curve)
        self._curves.clear()
        self.fit_legend()

    def curve_data(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """What is drawn, by run name: its x and y."""
        return {name: curve.getData() for name, curve in self._curves.items()}

    def kept_points(self) -> list[tuple[float, float]]:
        """Where the kept epochs are ringed, in run order."""
        if self.kept is None:
            return []
        x, y = self.kept.getData()
        return list(zip(x.tolist(), y.tolist()))
