"""One curve per run on shared axes: the Runs panel's overlay of validation loss or accuracy."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from tlstudio.qt.widgets.titled_plot import TitledPlot

# One colour per run, distinct from each other on white and in print (Tableau 10).
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def run_colour(index: int) -> str:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


class RunsPlot(TitledPlot):
    def __init__(self, title: str, parent=None):
        super().__init__(title, "epoch", parent, integer_x=True)
        self.setMinimumHeight(180)
        self._curves: dict[str, pg.PlotDataItem] = {}

    def show_runs(self, runs) -> None:
        """`runs`: (name, colour, epochs, values) each; what was drawn before goes."""
        self.clear_runs()
        for name, colour, x, y in runs:
            # Markers too: a short run has two or three epochs, and a line alone hides where they are.
            self._curves[name] = self.plot_item.plot(
                np.asarray(x, dtype=float), np.asarray(y, dtype=float), name=name,
                pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                symbolBrush=colour, symbolPen=colour, connect="finite")
        self.plot_item.enableAutoRange()
        self.fit_legend()

    def clear_runs(self) -> None:
        for curve in self._curves.values():
            self.plot_item.removeItem(curve)
            self.legend.removeItem(curve)
        self._curves.clear()
        self.fit_legend()

    def curve_data(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """What is drawn, by run name: its x and y."""
        return {name: curve.getData() for name, curve in self._curves.items()}
