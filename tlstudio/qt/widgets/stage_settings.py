"""Epochs and learning rates of the two training stages (frozen head, then unfrozen)."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QSpinBox, QVBoxLayout, QWidget

from tlstudio.core.config import TrainConfig
from tlstudio.qt.widgets.lr_edit import LrEdit


class StageSettings(QWidget):
    """Emits `changed(dict)` with the TrainConfig fields the user edited."""

    changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        stage1 = QGroupBox("Stage 1: body frozen, head trains")
        form1 = QFormLayout(stage1)
        self.freeze_epochs = QSpinBox(minimum=0, maximum=100)
        self.freeze_epochs.setToolTip("0 skips stage 1")
        self.head_lr = LrEdit()
        self.head_lr.setToolTip("Learning rate of stage 1")
        self.same_lr = QCheckBox("same as stage 2")
        self.same_lr.setToolTip("Use the stage-2 base rate for the head, as fastai's fine_tune does")
        lr_row = QHBoxLayout()
        lr_row.addWidget(self.head_lr)
        lr_row.addWidget(self.same_lr)
        form1.addRow("Epochs", self.freeze_epochs)
        form1.addRow("Learning rate", lr_row)

        stage2 = QGroupBox("Stage 2: unfrozen to the depth shown")
        form2 = QFormLayout(stage2)
        self.epochs = QSpinBox(minimum=0, maximum=500)
        self.base_lr = LrEdit()
        self.base_lr.setToolTip("Peak learning rate of the last group (the head)")
        self.lr_mult = QDoubleSpinBox(minimum=1.0, maximum=10000.0, decimals=0, singleStep=10.0, prefix="÷ ")
        self.lr_mult.setToolTip("The first group gets base / this: fit_one_cycle(slice(base / mult, base))")
        form2.addRow("Epochs", self.epochs)
        form2.addRow("Base learning rate", self.base_lr)
        form2.addRow("First group gets base", self.lr_mult)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(stage1)
        layout.addWidget(stage2)

        self.freeze_epochs.valueChanged.connect(lambda v: self.changed.emit({"freeze_epochs": v}))
        self.epochs.valueChanged.connect(lambda v: self.changed.emit({"epochs": v}))
        self.lr_mult.valueChanged.connect(lambda v: self.changed.emit({"lr_mult": float(v)}))
        self.base_lr.rate_edited.connect(lambda lr: self.changed.emit({"base_lr": lr}))
        self.head_lr.rate_edited.connect(lambda lr: self.changed.emit({"head_lr": lr}))
        self.same_lr.toggled.connect(self._same_lr_toggled)

    def set_config(self, config: TrainConfig) -> None:
        widgets = (self.freeze_epochs, self.epochs, self.lr_mult, self.base_lr, self.head_lr, self.same_lr)
        for w in widgets:
            w.blockSignals(True)
        try:
            self.freeze_epochs.setValue(config.freeze_epochs)
            self.epochs.setValue(config.epochs)
            self.lr_mult.setValue(config.lr_mult)
            self.base_lr.set_value(config.base_lr)
            self.head_lr.set_value(config.stage1_lr)
            self.same_lr.setChecked(config.head_lr is None)
            self.head_lr.setEnabled(config.head_lr is not None)
        finally:
            for w in widgets:
                w.blockSignals(False)

    def _same_lr_toggled(self, same: bool) -> None:
        self.head_lr.setEnabled(not same)
        self.changed.emit({"head_lr": None if same else self.head_lr.value()})
