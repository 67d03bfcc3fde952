"""A confusion matrix heatmap painted with QPainter: counts in the cells, class
names on both axes, tooltips, and a signal when a cell is clicked.

Rows are the actual classes, columns the predicted ones. Cells, fonts and
labels scale with the widget so 2 to 50 classes stay readable: past a point
the numbers give way to colour alone and the tooltip carries the details.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

# Light to dark blue, the usual confusion-matrix ramp (matplotlib "Blues").
_RAMP = [(247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)]
_MAX_LABEL_PX = 150  # longer class names are elided; the tooltip has them in full
_AXIS_TITLE_PX = 22


def ramp_color(t: float) -> QColor:
    t = min(max(float(t), 0.0), 1.0) * (len(_RAMP) - 1)
    i = min(int(t), len(_RAMP) - 2)
    f = t - i
    a, b = _RAMP[i], _RAMP[i + 1]
    return QColor(*(round(x + (y - x) * f) for x, y in zip(a, b)))


def row_normalized(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=1, keepdims=True).astype(float)
    return np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)


class ConfusionMatrixView(QWidget):
    cell_clicked = Signal(int, int)  # actual index, predicted index

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.classes: list[str] = []
        self.counts = np.zeros((0, 0), dtype=int)
        self.normalized = False
        self.selected: tuple[int, int] | None = None
        self._hover: tuple[int, int] | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(260, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)

    # -- data ---------------------------------------------------------------
    def set_matrix(self, classes: list[str], counts) -> None:
        counts = np.asarray(counts, dtype=int)
        if counts.shape != (len(classes), len(classes)):
            raise ValueError(f"confusion matrix shape {counts.shape} does not match {len(classes)} classes")
        self.classes = list(classes)
        self.counts = counts
        self.selected = None
        self._hover = None
        self.update()

    def clear(self) -> None:
        self.set_matrix([], np.zeros((0, 0), dtype=int))

    def set_normalized(self, on: bool) -> None:
        self.normalized = bool(on)
        self.update()

    def cell_text(self, i: int, j: int) -> str:
        if self.normalized:
            return f"{row_normalized(self.counts)[i, j]:.2f}"
        return str(int(self.counts[i, j]))

    # -- geometry -----------------------------------------------------------
    def _label_font(self, cell: float) -> QFont:
        font = QFont(self.font())
        font.setPixelSize(int(min(max(cell * 0.4, 8), 13)))
        return font

    def _layout(self, size: QSize | None = None) -> tuple[QRectF, float, QFont, bool, int]:
        """The grid rectangle, the cell size, the label font, whether column
        labels are drawn vertically, and the widest a label may be."""
        n = max(len(self.classes), 1)
        size = size or self.size()
        w, h = size.width(), size.height()
        label_px = int(min(_MAX_LABEL_PX, 0.22 * min(w, h)))
        # Two passes: the label font depends on the cell size and vice versa.
        cell = min((w - 2 * _AXIS_TITLE_PX) / (n + 2), (h - 2 * _AXIS_TITLE_PX) / (n + 2))
        for _ in range(2):
            font = self._label_font(cell)
            fm = QFontMetrics(font)
            widest = min(max((fm.horizontalAdvance(c) for c in self.classes), default=0), label_px)
            rotated = widest > cell - 4
            col_label_h = widest + 8 if rotated else fm.height() + 6
            avail_w = w - _AXIS_TITLE_PX - widest - 18
            avail_h = h - _AXIS_TITLE_PX - 4 - col_label_h - 10
            cell = max(min(avail_w / n, avail_h / n), 2.0)
        left = _AXIS_TITLE_PX + widest + 8
        top = _AXIS_TITLE_PX + 4
        grid_w = cell * n
        # Centre the grid (with its labels) in what is left.
        left += max((w - left - grid_w - 10) / 2, 0)
        top += max((h - top - grid_w - col_label_h - 10) / 2, 0)
        return QRectF(left, top, grid_w, grid_w), cell, font, rotated, label_px

    def cell_rect(self, i: int, j: int) -> QRect:
        grid, cell, *_ = self._layout()
        return QRectF(grid.left() + j * cell, grid.top() + i * cell, cell, cell).toAlignedRect()

    def cell_at(self, pos: QPoint | QPointF) -> tuple[int, int] | None:
        if not self.classes:
            return None
        grid, cell, *_ = self._layout()
        x, y = pos.x() - grid.left(), pos.y() - grid.top()
        if x < 0 or y < 0 or x >= grid.width() or y >= grid.height():
            return None
        n = len(self.classes)
        return min(int(y // cell), n - 1), min(int(x // cell), n - 1)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(480, 440)

    # -- painting -------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        try:
            self.paint(painter, self.size())
        finally:
            painter.end()

    def paint(self, p: QPainter, size: QSize, for_report: bool = False) -> None:
        """Draws the matrix; on screen also the hovered and selected cells, in a
        report black on white whatever the desktop theme."""
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        marks = not for_report
        text_color = QColor(20, 20, 20) if for_report else self.palette().color(QPalette.ColorRole.Text)
        if not self.classes:
            p.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            p.drawText(QRect(QPoint(0, 0), size), Qt.AlignmentFlag.AlignCenter, "No evaluation yet")
            return
        grid, cell, font, rotated, label_px = self._layout(size)
        n = len(self.classes)
        share = row_normalized(self.counts)
        peak = max(int(self.counts.max()), 1)
        value_font = QFont(self.font())
        value_font.setPixelSize(int(min(max(cell * 0.32, 7), 16)))
        show_values = cell >= 16 and QFontMetrics(value_font).horizontalAdvance("0.00" if self.normalized else str(peak)) < cell - 2
        p.setFont(value_font)
        for i in range(n):
            for j in range(n):
                t = share[i, j] if self.normalized else self.counts[i, j] / peak
                rect = QRectF(grid.left() + j * cell, grid.top() + i * cell, cell, cell)
                color = ramp_color(t)
                p.fillRect(rect, color)
                if show_values:
                    p.setPen(Qt.GlobalColor.white if color.lightness() < 140 else QColor(30, 30, 30))
                    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.cell_text(i, j))
        p.setPen(QPen(QColor(0, 0, 0, 40), 1))
        p.drawRect(grid)
        for cell_ij, pen in ((self._hover, QPen(QColor(255, 160, 0), 2)), (self.selected, QPen(QColor(220, 40, 40), 3))):
            if cell_ij is not None and marks:
                i, j = cell_ij
                p.setPen(pen)
                p.drawRect(QRectF(grid.left() + j * cell, grid.top() + i * cell, cell, cell).adjusted(1, 1, -1, -1))
        self._paint_labels(p, grid, cell, font, rotated, label_px, text_color)

    def _paint_labels(
        self, p: QPainter, grid: QRectF, cell: float, font: QFont, rotated: bool, label_px: int, color: QColor
    ) -> None:
        fm = QFontMetrics(font)
        p.setFont(font)
        p.setPen(color)
        for i, name in enumerate(self.classes):
            text = fm.elidedText(name, Qt.TextElideMode.ElideRight, label_px)
            y = grid.top() + i * cell
            p.drawText(QRectF(0, y, grid.left() - 6, cell), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
        for j, name in enumerate(self.classes):
            text = fm.elidedText(name, Qt.TextElideMode.ElideRight, label_px)
            x = grid.left() + (j + 0.5) * cell
            if rotated:  # vertical, reading upwards, ending just under its column
                p.save()
                p.translate(x + (fm.ascent() - fm.descent()) / 2, grid.bottom() + 6 + fm.horizontalAdvance(text))
                p.rotate(-90)
                p.drawText(QPointF(0, 0), text)
                p.restore()
            else:
                p.drawText(QRectF(x - cell / 2, grid.bottom() + 3, cell, fm.height()), Qt.AlignmentFlag.AlignCenter, text)
        title = QFont(self.font())
        title.setBold(True)
        p.setFont(title)
        p.drawText(QRectF(grid.left(), grid.top() - _AXIS_TITLE_PX - 4, grid.width(), _AXIS_TITLE_PX), Qt.AlignmentFlag.AlignCenter, "Predicted")
        p.save()
        p.translate(2, grid.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-grid.height() / 2, 0, grid.height(), _AXIS_TITLE_PX), Qt.AlignmentFlag.AlignCenter, "Actual")
        p.restore()

    def render_image(self, size: QSize | None = None) -> QImage:
        """The matrix drawn on a white image, for reports; big enough for every label."""
        n = max(len(self.classes), 1)
        side = max(480, min(40 * n + 260, 2400))
        size = size or QSize(side, side)
        image = QImage(size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.white)
        painter = QPainter(image)
        try:
            self.paint(painter, size, for_report=True)
        finally:
            painter.end()
        return image

    # -- interaction ------------------------------------------------------------
    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        hover = self.cell_at(event.position())
        if hover != self._hover:
            self._hover = hover
            self.setCursor(Qt.CursorShape.PointingHandCursor if hover else Qt.CursorShape.ArrowCursor)
            self.update()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            cell = self.cell_at(event.position())
            if cell is not None:
                self.selected = cell
                self.update()
                self.cell_clicked.emit(*cell)
                return
        super().mousePressEvent(event)

    def tooltip_for(self, i: int, j: int) -> str:
        row_total = int(self.counts[i].sum())
        share = row_normalized(self.counts)[i, j]
        return (
            f"Actual: {self.classes[i]}\nPredicted: {self.classes[j]}\n"
            f"{int(self.counts[i, j])} of {row_total} images ({share:.0%} of the row)\nClick to see them"
        )

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            cell = self.cell_at(event.pos())
            if cell is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), self.tooltip_for(*cell), self)
            return True
        return super().event(event)
