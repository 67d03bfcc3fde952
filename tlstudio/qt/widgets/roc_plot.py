"""One-vs-rest ROC curves with their AUC, for one class or all of them."""
from __future__ import annotations

import math
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

ALL_CLASSES = "All classes"
# Tableau's 10 categorical colours (matplotlib's default cycle): chosen to be told apart, also in print.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
# Past ten classes the colours repeat, each time with another dash pattern.
DASHES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine)


def curve_pen(index: int) -> "pg.QtGui.QPen":
    """Class `index`'s pen: its own colour, and a dash pattern once the colours run out."""
    colour = PALETTE[index % len(PALETTE)]
    style = DASHES[(index // len(PALETTE)) % len(DASHES)]
    return pg.mkPen(colour, width=2.5 if style == Qt.PenStyle.SolidLine else 2, style=style)
MAX_LEGEND = 12  # more curves than this: the AUCs are read from the class list instead


class RocPlot(QWidget):
    """Curves are anything with `label`, `fpr`, `tpr` and `auc` (nan when undefined),
    such as the engine's `interpret.RocCurve`."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.curves: list = []
        self.class_combo = QComboBox()
        self.class_combo.setMinimumContentsLength(14)
        self.class_combo.currentIndexChanged.connect(self._redraw)
        # The legend gets its own column beside the axes so it never hides a curve.
        self.plot = pg.GraphicsLayoutWidget()
        self.plot.setBackground("w")
        item = self.plot_item = self.plot.addPlot(row=0, col=0)
        item.setLabel("bottom", "False positive rate")
        item.setLabel("left", "True positive rate")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.02)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        self.legend = pg.LegendItem(labelTextColor="k", verSpacing=-6)
        self.plot.addItem(self.legend, row=0, col=1)
        self.plot.ci.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignTop)
        top = QHBoxLayout()
        top.addWidget(QLabel("Class:"))
        top.addWidget(self.class_combo)
        top.addStretch(1)
        self.macro_label = QLabel("")
        top.addWidget(self.macro_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)
        self._redraw()

    def set_curves(self, curves: list, macro_auc: float | None = None) -> None:
        self.curves = list(curves)
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem(ALL_CLASSES, None)
        for curve in self.curves:
            self.class_combo.addItem(f"{curve.label} (AUC {_auc_text(curve.auc)})", curve.label)
        self.class_combo.blockSignals(False)
        known = macro_auc is not None and not math.isnan(macro_auc)
        self.macro_label.setText(f"Macro-average AUC {macro_auc:.3f}" if known else "")
        self._redraw()

    def show_class(self, name: str | None) -> None:
        """Show one class's curve, or every curve for None."""
        self.class_combo.setCurrentIndex(max(self.class_combo.findData(name), 0))

    def shown_curves(self) -> list:
        choice = self.class_combo.currentData()
        return [c for c in self.curves if choice is None or c.label == choice]

    def _redraw(self, *_args) -> None:
        item = self.plot_item
        item.clear()
        self.legend.clear()
        shown = self.shown_curves()
        self.legend.setVisible(len(shown) <= MAX_LEGEND)
        diagonal = item.plot([0, 1], [0, 1], pen=pg.mkPen((150, 150, 150), width=1, style=Qt.PenStyle.DashLine))
        diagonal.setZValue(-1)
        for curve in shown:
            name = f"{curve.label} (AUC {_auc_text(curve.auc)})" if len(shown) <= MAX_LEGEND else None
            line = item.plot(curve.fpr, curve.tpr, pen=curve_pen(self.curves.index(curve)))
            if name:
                self.legend.addItem(line, name)
        # Keep the rows together at the top instead of spread over the column.
        self.legend.setMaximumHeight(self.legend.layout.preferredHeight())

    def save_png(self, path: Path, width: int = 900) -> None:
        from pyqtgraph.exporters import ImageExporter

        exporter = ImageExporter(self.plot.scene())
        exporter.parameters()["width"] = width
        exporter.export(str(path))


def _auc_text(auc: float) -> str:
    return "n/a" if math.isnan(auc) else f"{auc:.3f}"
