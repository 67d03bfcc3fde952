"""The random split's validation share and seed, for data without split folders.

Shown only when the dataset was split at random; "Re-split" asks for a new
scan with these values (they are TrainConfig.valid_pct and seed)."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton, QSpinBox


class SplitControls(QGroupBox):
    resplit_requested = Signal(float, int)  # valid_pct (0-1), seed

    def __init__(self, parent=None):
        super().__init__("Random split", parent)
        self.setToolTip("The data has no train/valid folders, so each class is split at random")
        self.valid = QSpinBox(minimum=5, maximum=50, singleStep=5, suffix=" %")
        self.valid.setToolTip("Share of each class held out for validation (stratified)")
        self.seed = QSpinBox(minimum=0, maximum=99_999)
        self.seed.setToolTip("The same seed gives the same split every time; another seed, another split")
        self.apply = QPushButton("Re-split")
        self.apply.setToolTip("Split the images again with this share and seed (a trained model is set aside)")
        self.apply.clicked.connect(lambda: self.resplit_requested.emit(self.valid.value() / 100, self.seed.value()))
        for box in (self.valid, self.seed):
            box.valueChanged.connect(self._edited)
        grid = QGridLayout(self)
        grid.addWidget(QLabel("Validation"), 0, 0)
        grid.addWidget(self.valid, 0, 1)
        grid.addWidget(QLabel("Seed"), 0, 2)
        grid.addWidget(self.seed, 0, 3)
        grid.addWidget(self.apply, 1, 0, 1, 4)
        self._shown = (None, None)

    def set_split(self, valid_pct: float, seed: int) -> None:
        """The values the dataset shown was split with."""
        self._shown = (round(valid_pct * 100), seed)
        for box, value in ((self.valid, self._shown[0]), (self.seed, seed)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self._edited()

    def _edited(self, *_args) -> None:
        self.apply.setEnabled((self.valid.value(), self.seed.value()) != self._shown)
