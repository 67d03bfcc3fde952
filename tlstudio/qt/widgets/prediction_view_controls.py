"""How the Predict page shows its results: how many classes per image, the
order, and which side of a confidence threshold to keep."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from tlstudio.qt.widgets.prediction_table_model import SHOW_ALL, SHOW_AT_LEAST, SHOW_BELOW

SORTS = (("Input order", None), ("Most confident first", Qt.SortOrder.DescendingOrder), ("Least confident first", Qt.SortOrder.AscendingOrder))
SHOWS = (("All images", SHOW_ALL), ("At or above", SHOW_AT_LEAST), ("Below", SHOW_BELOW))


class PredictionViewControls(QWidget):
    top_k_changed = Signal(int)
    sort_changed = Signal(object)  # Qt.SortOrder, or None for the input order
    filter_changed = Signal(str, float)  # SHOW_* mode, threshold in 0..1

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.top_k = QSpinBox(minimum=1, maximum=10, value=3)
        self.top_k.setToolTip("How many classes to list per image, most probable first")
        self.sort = QComboBox()
        for text, order in SORTS:
            self.sort.addItem(text, order)
        self.sort.setToolTip("Order by the probability of each image's predicted class")
        self.show_mode = QComboBox()
        for text, mode in SHOWS:
            self.show_mode.addItem(text, mode)
        self.show_mode.setToolTip("Keep only images predicted with at least, or with less than, this confidence")
        self.threshold = QSpinBox(minimum=0, maximum=100, value=50, suffix=" %")
        self.threshold.setToolTip("Confidence: the probability of the predicted class")
        self.threshold.setEnabled(False)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Top"))
        layout.addWidget(self.top_k)
        layout.addSpacing(8)
        layout.addWidget(QLabel("Sort:"))
        layout.addWidget(self.sort)
        layout.addSpacing(8)
        layout.addWidget(QLabel("Show:"))
        layout.addWidget(self.show_mode)
        layout.addWidget(self.threshold)
        layout.addStretch(1)

        self.top_k.valueChanged.connect(self.top_k_changed)
        self.sort.currentIndexChanged.connect(lambda _: self.sort_changed.emit(self.sort.currentData()))
        self.show_mode.currentIndexChanged.connect(self._emit_filter)
        self.threshold.valueChanged.connect(self._emit_filter)

    def mode(self) -> str:
        return self.show_mode.currentData()

    def _emit_filter(self, *_args) -> None:
        self.threshold.setEnabled(self.mode() != SHOW_ALL)
        self.filter_changed.emit(self.mode(), self.threshold.value() / 100)
