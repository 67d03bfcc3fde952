"""A learning-rate field that reads and writes scientific notation (e.g. 1.5e-3)."""
from __future__ import annotations

from PySide6.QtCore import QLocale, Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import QLineEdit, QWidget

from tlstudio.qt.widgets.lr_plot import format_lr

MIN_LR, MAX_LR = 1e-8, 10.0


class LrEdit(QLineEdit):
    """Emits `rate_edited(lr)` when the user finishes typing a valid rate."""

    rate_edited = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        validator = QDoubleValidator(MIN_LR, MAX_LR, 8, self)
        validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
        validator.setLocale(QLocale.c())  # float() parses the text: keep '.' as the decimal point
        self.setValidator(validator)
        self.setPlaceholderText("e.g. 1e-3")
        self.setMinimumWidth(90)
        self.setMaximumWidth(120)
        self.setToolTip(f"Learning rate between {MIN_LR:g} and {MAX_LR:g}; scientific notation such as 2e-3")
        self.editingFinished.connect(self._finished)
        self._value: float | None = None

    def value(self) -> float | None:
        return self._value

    def set_value(self, lr: float | None) -> None:
        self._value = lr
        self.setText("" if lr is None else format_lr(lr))

    def _finished(self) -> None:
        try:
            lr = float(self.text())
        except ValueError:
            self.set_value(self._value)
            return
        if not (MIN_LR <= lr <= MAX_LR):
            self.set_value(self._value)
            return
        if lr != self._value:
            self.set_value(lr)
            self.rate_edited.emit(lr)
