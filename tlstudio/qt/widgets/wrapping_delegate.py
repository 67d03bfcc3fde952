"""An item delegate that wraps a column's text, so long values (paths, hashes, class lists)
show in full inside the view's width instead of making it scroll sideways. Lines break between
words; a word longer than the column (a path, a hash) breaks where it must. A cell with an
icon keeps it at its left and wraps its text beside it."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTreeView

ALIGN = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter  # level with the row's other cells
PAD = 3
MIN_WIDTH = 40  # px a line of text is given, however narrow its column


def wrap_flags(metrics, text: str, width: int) -> int:
    """Break between words unless a word is wider than the column."""
    fits = all(metrics.horizontalAdvance(word) <= width for word in text.split())
    return int(ALIGN | (Qt.TextFlag.TextWordWrap if fits else Qt.TextFlag.TextWrapAnywhere))


class WrapAnywhereDelegate(QStyledItemDelegate):
    def __init__(self, view: QTreeView, *columns: int) -> None:
        super().__init__(view)
        self.view, self.columns = view, columns
        for column in columns:
            view.setItemDelegateForColumn(column, self)
        view.setUniformRowHeights(False)
        view.setWordWrap(True)
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Row heights follow the column's width: lay the rows out again when it changes.
        view.header().sectionResized.connect(self._on_resized)

    def _on_resized(self, index: int, _old: int, _new: int) -> None:
        if index in self.columns:
            self.view.scheduleDelayedItemsLayout()

    def _icon_width(self, index) -> int:
        if index.data(Qt.ItemDataRole.DecorationRole) is None:
            return 0
        return self.view.iconSize().width() + 2 * PAD

    def _icon_height(self, index) -> int:
        return 0 if not self._icon_width(index) else self.view.iconSize().height() + 2

    def _text_rect(self, option: QStyleOptionViewItem, index) -> QRect:
        return option.rect.adjusted(PAD + self._icon_width(index), 1, -PAD, -1)

    def paint(self, painter, option, index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text, opt.text = opt.text, ""
        style = opt.widget.style() if opt.widget else self.view.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        painter.setPen(opt.palette.color(role))
        rect = self._text_rect(opt, index)
        painter.drawText(rect, wrap_flags(opt.fontMetrics, text, rect.width()), text)
        painter.restore()

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 (Qt name)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        icon = self._icon_width(index)
        width = max(MIN_WIDTH, self.view.header().sectionSize(index.column()) - 2 * PAD - icon)
        bounds = option.fontMetrics.boundingRect(QRect(0, 0, width, 100_000), wrap_flags(option.fontMetrics, text, width), text)
        height = max(bounds.height(), option.fontMetrics.height()) + 2
        return QSize(width + 2 * PAD + icon, max(height, self._icon_height(index)))

    def wrapped_height(self, text: str, column: int, icon: bool = False) -> int:
        """The height `text` takes in `column` at its width, beside an icon or not (what a test
        compares a row to)."""
        width = self.view.header().sectionSize(column) - 2 * PAD
        if icon:
            width -= self.view.iconSize().width() + 2 * PAD
        width = max(MIN_WIDTH, width)
        metrics = self.view.fontMetrics()
        return metrics.boundingRect(QRect(0, 0, width, 100_000), wrap_flags(metrics, text, width), text).height()
