"""Finds text the window shows only in part: labels, buttons, group titles,
fields and table cells narrower (or, word-wrapped, shorter) than their text
needs, a status-bar message wider than the bar, widgets pushed outside their
parent, and views that scroll sideways; and in plots, a legend over the data
or cut off, and a text label cut off by its plot or over another label.

`clipped(root)` returns one line per problem, naming the widget and its text,
so a failing test says what to fix.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListView,
    QScrollArea,
    QSizeGrip,
    QStatusBar,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

GROUP_TITLE_MARGIN = 16  # Fusion draws a group title inset from the frame's left edge
CELL_PADDING = 6  # a table cell's text margins, both sides together (Fusion: 3 px a side)
STATUS_LEFT, STATUS_RIGHT = 6, 12  # QStatusBar paints a message from 6 px in to 12 px before the edge or the size grip


def _name(widget: QWidget) -> str:
    text = ""
    for attr in ("text", "title", "placeholderText"):
        value = getattr(widget, attr, None)
        if callable(value):
            text = value()
            if text:
                break
    return f"{type(widget).__name__} {text[:60]!r}"


def _inside_scroll_area(widget: QWidget, root: QWidget) -> bool:
    """Inside a scroll area's viewport a widget may extend past what is shown: it scrolls."""
    parent = widget.parentWidget()
    while parent is not None and parent is not root:
        if isinstance(parent, QScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def _label_problem(label: QLabel) -> str | None:
    if not label.text() or label.pixmap() is not None and not label.pixmap().isNull():
        return None
    if label.wordWrap():
        needed = label.heightForWidth(label.width())
        if needed > label.height() + 1:
            return f"needs {needed} px of height, has {label.height()}"
        longest = label.minimumSizeHint().width()  # its longest unbreakable run (a hash, say)
        if longest > label.width() + 1:
            return f"a word needs {longest} px of width, has {label.width()}"
        return None
    needed = label.sizeHint().width()
    if needed > label.width() + 1:
        return f"needs {needed} px of width, has {label.width()}"
    return None


def _status_bar_problem(bar: QStatusBar) -> str | None:
    """A temporary message is painted by the bar itself, cut off at its right edge."""
    message = QStatusBar.currentMessage(bar)  # what is painted, whatever a subclass reports
    if not message:
        return None
    grip = bar.findChild(QSizeGrip)
    right = grip.x() if grip is not None and grip.isVisible() else bar.width() - STATUS_RIGHT
    needed, room = bar.fontMetrics().horizontalAdvance(message), right - STATUS_LEFT
    if needed > room:
        return f"message {message[:60]!r} needs {needed} px of width, has {room}"
    if message.endswith("…") and not bar.toolTip():
        return f"message {message[:60]!r} is elided and no tooltip holds the rest"
    return None


def _problem(widget: QWidget) -> str | None:
    if isinstance(widget, QLabel):
        return _label_problem(widget)
    if isinstance(widget, QStatusBar):
        return _status_bar_problem(widget)
    if isinstance(widget, pg.GraphicsView):
        return _plot_problem(widget)
    if isinstance(widget, QAbstractButton) and widget.text():
        needed = widget.sizeHint().width()
        if needed > widget.width() + 1:
            return f"needs {needed} px of width, has {widget.width()}"
    if isinstance(widget, QGroupBox) and widget.title():
        needed = widget.fontMetrics().horizontalAdvance(widget.title().replace("&", "")) + GROUP_TITLE_MARGIN
        if needed > widget.width():
            return f"title needs {needed} px of width, has {widget.width()}"
    if isinstance(widget, QLineEdit) and widget.placeholderText() and not widget.text():
        needed = widget.fontMetrics().horizontalAdvance(widget.placeholderText()) + 12
        if needed > widget.width():
            return f"placeholder needs {needed} px of width, has {widget.width()}"
    if isinstance(widget, QComboBox) and widget.currentText():
        needed = widget.minimumSizeHint().width()
        if needed > widget.width() + 1:
            return f"needs {needed} px of width, has {widget.width()}"
    if isinstance(widget, QAbstractScrollArea) and widget.horizontalScrollBar().isVisible():
        return "scrolls sideways"
    if isinstance(widget, QTableView):
        return _table_problem(widget)
    if isinstance(widget, QListView) and widget.viewMode() == QListView.ViewMode.IconMode:
        return _caption_problem(widget)
    return None


def _caption_problem(view: QListView) -> str | None:
    """A caption under a thumbnail on screen that is wider than its cell (Qt elides it)."""
    model = view.model()
    if model is None or view.wordWrap():
        return None
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    shown = view.viewport().rect()
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        rect = view.visualRect(index)
        if rect.top() > shown.bottom():
            break
        if not rect.intersects(shown) or not isinstance(index.data(), str):
            continue
        needed = view.itemDelegateForIndex(index).sizeHint(option, index).width()
        if needed > rect.width():
            return f"caption {index.data()!r} needs {needed} px of width, has {rect.width()}"
    return None


def _table_problem(table: QTableView) -> str | None:
    """A cell whose text is wider than its column (Qt elides it with "…")."""
    model, metrics = table.model(), table.fontMetrics()
    if model is None:
        return None
    for row in range(model.rowCount()):
        for col in range(model.columnCount()):
            text = model.index(row, col).data()
            if not isinstance(text, str) or not text:
                continue
            font = model.index(row, col).data(Qt.ItemDataRole.FontRole)
            width = (QFontMetrics(font) if font is not None else metrics).horizontalAdvance(text) + CELL_PADDING
            if width > table.columnWidth(col):
                return f"cell ({row}, {col}) {text!r} needs {width} px of width, has {table.columnWidth(col)}"
    return None


def _plot_problem(view: pg.GraphicsView) -> str | None:
    """In a pyqtgraph view: legends over a plot's data or cut off at the view's
    edge, text labels (a line's label, a marker's) cut off by their plot, and
    labels over one another. Scene coordinates are the view's pixels here."""
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    items = [item for item in view.scene().items() if item.isVisible()]
    boxes = [item for item in items if isinstance(item, pg.ViewBox)]
    for legend in (item for item in items if isinstance(item, pg.LegendItem) and item.items):
        rect = legend.sceneBoundingRect()
        names = ", ".join(label.text for _sample, label in legend.items)
        if any(rect.intersects(box.sceneBoundingRect()) for box in boxes):
            return f"legend ({names}) lies over a plot's data"
        entries = [rect] + [part.sceneBoundingRect() for entry in legend.items for part in entry]
        if not all(shown.contains(r) for r in entries):
            return f"legend ({names}) is cut off at the edge of its view"
    labels = [item for item in items if isinstance(item, pg.TextItem) and item.toPlainText()]
    for label in labels:
        box = label.getViewBox()
        if box is not None and not box.sceneBoundingRect().contains(label.sceneBoundingRect()):
            return f"label {label.toPlainText()!r} is cut off by its plot"
    for i, label in enumerate(labels):
        for other in labels[i + 1:]:
            if label.sceneBoundingRect().intersects(other.sceneBoundingRect()):
                return f"labels {label.toPlainText()!r} and {other.toPlainText()!r} overlap"
    return None


def _outside_parent(widget: QWidget) -> str | None:
    parent = widget.parentWidget()
    if parent is None:
        return None
    geometry = widget.geometry()
    if not parent.rect().contains(geometry):
        return f"at {geometry.getRect()} sticks out of its parent ({parent.width()}x{parent.height()})"
    return None


def clipped(root: QWidget) -> list[str]:
    """Every visible widget under `root` whose text or extent is cut off."""
    problems = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisibleTo(root) or widget.window() is not root.window():
            continue
        if _inside_scroll_area(widget, root):
            continue
        problem = _problem(widget) or _outside_parent(widget)
        if problem:
            problems.append(f"{_name(widget)}: {problem}")
    return problems
