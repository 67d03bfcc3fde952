"""Unfreeze depth over the model's real layer groups, with each group's stage-2 learning rate.

Depth d means stage 2 calls `freeze_to(-d)`: the last d groups train (the head
is one of them) and the others stay frozen whole, BatchNorm included
(training._stage2 measured why). The learning rates are the discriminative slice
`slice(base_lr / lr_mult, base_lr)` spread over all groups, as fastai spreads it.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tlstudio.core.config import TrainConfig
from tlstudio.core.models.groups import depth_to_freeze_to, discriminative_lrs

COLUMNS = ("Group", "Parameters", "Stage 2", "Peak learning rate")
TRAINS = QColor("#1b6e2a")
FROZEN = QColor("#777777")


def format_params(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n / 1e3:.1f} k"


FROZEN_RATE = "none (frozen, BatchNorm too)"

class DepthControl(QWidget):
    depth_changed = Signal(object)  # int, or None for "every group"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.groups: list = []  # models.GroupInfo, first to last (head)
        self.base_lr, self.lr_mult = TrainConfig().base_lr, TrainConfig().lr_mult
        self.recommended: int | None = None

        self.spin = QSpinBox(minimum=1, maximum=1)
        self.spin.setToolTip("How many layer groups, counted from the head, stage 2 trains")
        self.spin.valueChanged.connect(self._spin_changed)
        self.total = QLabel()
        self.freeze_to = QLabel(wordWrap=True)
        self.freeze_to.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.freeze_to.setStyleSheet("color: #555;")
        row = QHBoxLayout()
        row.addWidget(QLabel("Stage 2 trains the last"))
        row.addWidget(self.spin)
        row.addWidget(self.total)
        row.addStretch(1)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

        self.advice = QLabel(wordWrap=True)
        self.apply = QPushButton("Apply recommendation")
        self.apply.clicked.connect(self.apply_recommendation)
        advice_row = QHBoxLayout()
        advice_row.addWidget(self.advice, 1)
        advice_row.addWidget(self.apply, 0, Qt.AlignmentFlag.AlignTop)

        self.placeholder = QLabel("Reading the model's layer groups…")
        self.placeholder.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.freeze_to)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.table, 1)
        layout.addLayout(advice_row)
        self._depth: int | None = None

    # -- state --------------------------------------------------------------

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    def depth(self) -> int | None:
        """The configured depth: None when every group trains."""
        return self._depth

    def effective_depth(self) -> int:
        return self.n_groups if self._depth is None else min(self._depth, self.n_groups)

    def freeze_to_arg(self) -> int:
        """What stage 2 passes to `learn.freeze_to`."""
        return depth_to_freeze_to(self._depth, self.n_groups)

    def trains(self) -> list[bool]:
        """Per group, first to last: does stage 2 train it."""
        d = self.effective_depth()
        return [i >= self.n_groups - d for i in range(self.n_groups)]

    def lrs(self) -> list[float]:
        return discriminative_lrs(self.n_groups, self.base_lr, self.lr_mult) if self.groups else []

    # -- inputs -------------------------------------------------------------

    def set_groups(self, groups: list) -> None:
        self.groups = list(groups)
        self.placeholder.setVisible(not self.groups)
        self.spin.blockSignals(True)
        self.spin.setMaximum(max(1, self.n_groups))
        self.spin.setValue(self.effective_depth() if self.groups else 1)
        self.spin.blockSignals(False)
        self._render()

    def set_depth(self, depth: int | None) -> None:
        self._depth = depth
        if self.groups:
            self.spin.blockSignals(True)
            self.spin.setValue(self.effective_depth())
            self.spin.blockSignals(False)
        self._render()

    def set_lrs(self, base_lr: float, lr_mult: float) -> None:
        self.base_lr, self.lr_mult = base_lr, lr_mult
        self._render()

    def set_recommendation(self, depth: int, reason: str) -> None:
        """`depth` groups to train (the number of groups or more: every one)."""
        self.recommended = depth
        self.advice.setText(f"Recommended, and used until you set a depth (training refines it by the head's accuracy): {reason}")

    def apply_recommendation(self) -> None:
        if self.recommended is not None and self.groups:
            self.spin.setValue(min(self.recommended, self.n_groups))
            self._spin_changed(self.spin.value())

    # -- output -------------------------------------------------------------

    def _spin_changed(self, value: int) -> None:
        depth = None if value >= self.n_groups else value
        if depth != self._depth:
            self._depth = depth
            self._render()
            self.depth_changed.emit(depth)

    def _render(self) -> None:
        n = self.n_groups
        self.total.setText(f"of {n} layer groups" if n else "")
        if not n:
            self.table.setRowCount(0)
            self.freeze_to.setText("")
            return
        arg = self.freeze_to_arg()
        call = "learn.unfreeze()" if arg == 0 else f"learn.freeze_to({arg})"
        self.freeze_to.setText(f"Stage 2 runs {call} then fit_one_cycle(epochs, slice({self.lrs()[0]:.1e}, {self.base_lr:.1e}))")
        trains, lrs = self.trains(), self.lrs()
        self.table.setRowCount(n)
        for i, group in enumerate(self.groups):
            on = trains[i]
            cells = (
                f"{i + 1}. {group.name}",
                format_params(group.n_params),
                "trains" if on else "frozen",
                f"{lrs[i]:.2e}" if on else FROZEN_RATE,
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setForeground(QBrush(TRAINS if on else FROZEN))
                if col in (1, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if not on and col in (2, 3):
                    item.setToolTip("Frozen: only its normalisation layers train (fastai's train_bn)")
                self.table.setItem(i, col, item)
