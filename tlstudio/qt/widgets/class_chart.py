"""Images per class as horizontal bars stacked by split, class names on the axis.

Clicking a class's bar (or its name) emits `class_clicked(name)`."""
from __future__ import annotations

from collections import Counter

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from tlstudio.core.dataset.spec import SPLITS
from tlstudio.core.printable import printable

SPLIT_COLORS = {"train": (52, 120, 198), "valid": (236, 146, 50), "test": (88, 166, 92)}


class ClassChart(pg.PlotWidget):
    class_clicked = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.plot_item = self.getPlotItem()
        self.plot_item.showGrid(x=True, alpha=0.25)
        self.plot_item.setLabel("bottom", "images")
        for axis in ("left", "bottom"):
            self.getAxis(axis).setTextPen("k")
            self.getAxis(axis).setPen(pg.mkPen(150, 150, 150))
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.classes: list[str] = []
        self.setToolTip("Click a bar to show only that class in the gallery")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.scene().sigMouseClicked.connect(self._clicked)

    def class_at(self, scene_pos) -> str | None:
        """The class whose row holds `scene_pos` (bar or name), or None."""
        if not self.classes:
            return None
        y = self.plot_item.vb.mapSceneToView(scene_pos).y()
        row = round(y)
        if abs(y - row) > 0.45 or not 0 <= row < len(self.classes):
            return None
        return self.classes[len(self.classes) - 1 - row]  # the first class is drawn at the top

    def row_center(self, name: str):
        """Where the middle of `name`'s bar is, in this widget's coordinates (for tests)."""
        row = len(self.classes) - 1 - self.classes.index(name)
        width = self.totals()[name]
        scene = self.plot_item.vb.mapViewToScene(pg.Point(width / 2, row))
        return self.mapFromScene(scene)

    def _clicked(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            name = self.class_at(event.scenePos())
            if name is not None:
                self.class_clicked.emit(name)

    def set_spec(self, spec) -> None:
        for item in self.bars.values():
            self.plot_item.removeItem(item)
        self.bars = {}
        self.classes = list(spec.classes) if spec is not None else []
        if not self.classes:
            return
        n = len(self.classes)
        y = list(range(n - 1, -1, -1))  # the first class at the top
        left = [0] * n
        counts = Counter(zip(spec.labels, spec.splits))  # one pass, not one per split
        for split in SPLITS:
            widths = [counts[(c, split)] for c in self.classes]
            if not any(widths):
                continue
            bar = pg.BarGraphItem(
                x0=left, y=y, width=widths, height=0.7,
                brush=pg.mkBrush(*SPLIT_COLORS[split]), pen=pg.mkPen(255, 255, 255), name=split,
            )
            self.plot_item.addItem(bar)
            self.bars[split] = bar
            left = [a + b for a, b in zip(left, widths)]
        self.getAxis("left").setTicks([[(yi, printable(name)) for yi, name in zip(y, self.classes)]])
        self.plot_item.setYRange(-0.6, n - 0.4, padding=0)
        self.plot_item.setXRange(0, max(left) * 1.05 or 1, padding=0)

    def legend_html(self) -> str:
        """The splits drawn, as colored squares for a label next to the chart (never over the bars)."""
        return "&nbsp;&nbsp;".join(
            f"<span style='color: rgb{SPLIT_COLORS[s]}'>■</span> {s}" for s in self.bars
        )

    def totals(self) -> dict[str, int]:
        """Bar length per class, for tests and tooltips."""
        totals = dict.fromkeys(self.classes, 0)
        for bar in self.bars.values():
            for name, width in zip(self.classes, bar.opts["width"]):
                totals[name] += int(width)
        return totals
