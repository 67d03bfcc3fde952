"""One-vs-rest ROC curves with their AUC, for one class or all of them."""
from __future__ import annotations

import math
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

ALL_CLASSES = "All classes"


class RocPlot(QWidget):
    """Curves are anything with `label`, `fpr`, `tpr` and `auc` (nan when undefined),
    such as the engine's `interpret.RocCurve`."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.curves: list = []
        self.class_combo = QComboBox()
        self.class_combo.setMinimumContentsLength(14)
        self.class_combo.currentIndexChanged.connect(self._redraw)
        self.plot = pg.PlotWidget(background="w")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "False positive rate")
        item.setLabel("left", "True positive rate")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.02)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        self.legend = item.addLegend(offset=(-10, 10), labelTextColor="k", brush=pg.mkBrush(255, 255, 255, 220))
        top = QHBoxLayout()
        top.addWidget(QLabel("Class:"))
        top.addWidget(self.class_combo)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)
        self._redraw()

    def set_curves(self, curves: list) -> None:
        self.curves = list(curves)
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem(ALL_CLASSES)
        self.class_combo.addItems([c.label for c in self.curves])
        self.class_combo.blockSignals(False)
        self._redraw()

    def show_class(self, name: str) -> None:
        self.class_combo.setCurrentText(name)

    def shown_curves(self) -> list:
        choice = self.class_combo.currentText()
        return [c for c in self.curves if choice in ("", ALL_CLASSES) or c.label == choice]

    def _redraw(self, *_args) -> None:
        item = self.plot.getPlotItem()
        item.clear()
        self.legend.clear()
        shown = self.shown_curves()
        self.legend.setColumnCount(1 if len(shown) <= 12 else 2 if len(shown) <= 24 else 3)
        diagonal = item.plot([0, 1], [0, 1], pen=pg.mkPen((150, 150, 150), width=1, style=Qt.PenStyle.DashLine))
        diagonal.setZValue(-1)
        for curve in shown:
            index = self.curves.index(curve)
            color = pg.intColor(index, hues=max(len(self.curves), 2), values=1, maxValue=220)
            auc = "n/a" if math.isnan(curve.auc) else f"{curve.auc:.3f}"
            item.plot(curve.fpr, curve.tpr, pen=pg.mkPen(color, width=2), name=f"{curve.label} (AUC {auc})")

    def save_png(self, path: Path, width: int = 900) -> None:
        from pyqtgraph.exporters import ImageExporter

        exporter = ImageExporter(self.plot.getPlotItem())
        exporter.parameters()["width"] = width
        exporter.export(str(path))
