"""A plot with its title above the axes and its legend outside them.

Inside the axes a legend covers whichever curve runs under it, and training
curves go everywhere in time. Here the legend sits in one row beside the title
when it fits there, which costs no height; when the plot is too narrow for
that, it moves to a column right of the axes, where a small window has width
to spare more than height. Either way no entry is cut off. Markers drawn as lines
across the axes (where stage 2 starts) are named there too, never by a label inside.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy, QWidget

TITLE_SIZE = "11pt"
TEXT_COLOUR = "#333"
HEADER_GAP = 16  # between the title and the first legend entry
MARGIN = 4


class IntegerAxis(pg.AxisItem):
    """Ticks on whole numbers only: an epoch axis has no epoch 1.5."""

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802,N803 (pyqtgraph's names)
        levels, seen = [], set()
        for spacing, offset in super().tickSpacing(minVal, maxVal, size):
            spacing = max(1.0, math.ceil(spacing))
            if spacing not in seen:
                seen.add(spacing)
                levels.append((spacing, offset))
        return levels


class TitledPlot(pg.GraphicsLayoutWidget):
    def __init__(self, title: str, x_label: str | None = None, parent: QWidget | None = None, *,
                 integer_x: bool = False):
        super().__init__(parent)
        self.setBackground("w")
        self.ci.setContentsMargins(MARGIN, MARGIN, MARGIN, 2)
        self.ci.setSpacing(0)
        self.header = self.addLayout(row=0, col=0, colspan=2)
        self.header.setContentsMargins(8, 0, 0, 0)
        self.header.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)  # the axes get the height
        self.title = self.header.addLabel(title, row=0, col=0, size=TITLE_SIZE, color=TEXT_COLOUR, justify="left")
        self.header.layout.setColumnStretchFactor(0, 1)
        axes = {"bottom": IntegerAxis("bottom")} if integer_x else None
        self.plot_item = self.addPlot(row=1, col=0, axisItems=axes)
        self.ci.layout.setColumnStretchFactor(0, 1)
        if x_label:
            self.plot_item.setLabel("bottom", x_label)
        self.plot_item.showGrid(x=True, y=True, alpha=0.2)
        # A short plot (the LR schedule at 1024 x 700) would stack its tick labels on each other.
        self.plot_item.getAxis("left").setStyle(hideOverlappingLabels=True)

        self.legend = pg.LegendItem(labelTextColor=TEXT_COLOUR, frame=False, horSpacing=4)
        self.legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.legend.layout.setContentsMargins(0, 2, 0, 0)  # no frame to leave room for
        # PlotItem adds every named curve to `legend` (what addLegend sets), wherever the legend is.
        self.plot_item.legend = self.legend
        self.legend_place = ""
        self._place_legend("header")
        self._markers: dict[str, pg.PlotDataItem] = {}

    def show_marker(self, name: str, pen, shown: bool) -> None:
        """Name a marker line (drawn by the caller) in the legend while it is shown."""
        if shown == (name in self._markers):
            return
        if shown:
            self._markers[name] = sample = pg.PlotDataItem(pen=pen)
            self.legend.addItem(sample, name)
        else:
            self.legend.removeItem(self._markers.pop(name))
        self.fit_legend()

    def fit_legend(self) -> None:
        """The legend beside the title when one row of it fits there, else right of the axes."""
        entries = len(self.legend.items)
        self.legend.setVisible(entries > 0)
        if not entries:
            return
        room = self.width() - 2 * MARGIN - 8 - self.title.item.boundingRect().width() - HEADER_GAP
        if self.legend_width(entries) <= room:
            self._place_legend("header")
            self.legend.setColumnCount(entries)
        else:
            self._place_legend("side")
            self.legend.setColumnCount(1)
        self.legend.updateGeometry()

    def legend_width(self, columns: int) -> float:
        """The width the legend's entries need in `columns` columns."""
        spacing = self.legend.layout.horizontalSpacing()
        widths = [sample.width() + spacing + label.minimumWidth() + spacing for sample, label in self.legend.items]
        return sum(max(widths[c::columns]) for c in range(min(columns, len(widths))))

    def _place_legend(self, place: str) -> None:
        if place == self.legend_place:
            return
        if self.legend_place:
            (self.header if self.legend_place == "header" else self.ci).removeItem(self.legend)
        if place == "header":
            self.header.addItem(self.legend, row=0, col=1)
        else:
            self.ci.addItem(self.legend, row=1, col=1)
            self.ci.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignTop)
        self.legend_place = place

    def resizeEvent(self, event):  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if hasattr(self, "legend"):  # GraphicsView resizes once while it is built
            place = self.legend_place
            self.fit_legend()
            if self.legend_place != place:
                # The layout was sized with the legend where it was: shrinking, a one-row legend
                # in the header held it wider than the view until the next resize.
                self.ci.setGeometry(self.range)
