"""Finds text the window shows only in part: labels, buttons, group titles,
fields and table cells narrower (or, word-wrapped, shorter) than their text
needs, widgets pushed outside their parent, and views that scroll sideways.

`clipped(root)` returns one line per problem, naming the widget and its text,
so a failing test says what to fix.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QScrollArea,
    QTableView,
    QWidget,
)

GROUP_TITLE_MARGIN = 16  # Fusion draws a group title inset from the frame's left edge
CELL_PADDING = 6  # a table cell's text margins, both sides together (Fusion: 3 px a side)


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
        return None
    needed = label.sizeHint().width()
    if needed > label.width() + 1:
        return f"needs {needed} px of width, has {label.width()}"
    return None


def _problem(widget: QWidget) -> str | None:
    if isinstance(widget, QLabel):
        return _label_problem(widget)
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
