"""The architecture registry as a table: size, input, layer groups, weights on this machine, measured speed."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from tlstudio.core.models.registry import ARCHS
from tlstudio.core.models.weights import weights_available
from tlstudio.core.training.speed import SPEED_BATCH, SPEED_SIZE

COLUMNS = ("Architecture", "Params", "Input", "Layer groups", "Pretrained weights", "Speed")
NAME, PARAMS, INPUT, GROUPS, WEIGHTS, SPEED = range(len(COLUMNS))
RECOMMENDED = "  ★ recommended"
ROW_HEIGHT = 22
AVAILABLE = QColor("#1b6e2a")
MISSING = QColor("#8a5a00")


def weights_text(status: str | None, short: bool = False) -> str:
    """"available offline (where)" when the weights are on this machine, else "not on this machine".
    `short`: a package is named only as "Python package"."""
    if not status:
        return "not on this machine"
    where = status.removeprefix("offline (").removesuffix(")") if status.startswith("offline (") else status
    if short and where.startswith("package "):
        where = "Python package"
    return f"available offline ({where})"


class ArchTable(QTableWidget):
    arch_selected = Signal(str)

    def __init__(self, parent=None):
        super().__init__(len(ARCHS), len(COLUMNS), parent)
        self.names = list(ARCHS)
        self.recommended: str | None = None
        self.setHorizontalHeaderLabels(COLUMNS)
        self.horizontalHeaderItem(SPEED).setToolTip(
            f"Inference speed: images per second of a forward pass (batch {SPEED_BATCH}, {SPEED_SIZE} px), measured on this machine. "
            "Training is slower: it also runs the backward pass; the Train page shows its own images/s"
        )
        self.horizontalHeaderItem(INPUT).setToolTip("The image size training uses, set on the Augment page")
        self.verticalHeader().hide()
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        for row, name in enumerate(self.names):
            info = ARCHS[name]
            cells = (name, f"{info.params_m:.1f} M", f"{info.input_size} px", str(info.n_groups), "", "not measured")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col not in (NAME, WEIGHTS):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, col, item)
            self.item(row, NAME).setToolTip(f"{name} ({info.source})")
        self.refresh_weights()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(WEIGHTS, QHeaderView.ResizeMode.Stretch)
        self.itemSelectionChanged.connect(self._selection_changed)
        # Every architecture visible at once: no scrolling to compare them.
        self.setFixedHeight(self.horizontalHeader().sizeHint().height() + ROW_HEIGHT * len(self.names) + 2 * self.frameWidth())
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def row_of(self, name: str) -> int:
        return self.names.index(name)

    def cell(self, name: str, column: int) -> str:
        return self.item(self.row_of(name), column).text()

    def selected_arch(self) -> str | None:
        rows = self.selectionModel().selectedRows()
        return self.names[rows[0].row()] if rows else None

    def select_arch(self, name: str) -> None:
        if name != self.selected_arch():
            self.selectRow(self.row_of(name))

    def refresh_weights(self, name: str | None = None) -> None:
        for arch in [name] if name else self.names:
            status = weights_available(arch)
            item = self.item(self.row_of(arch), WEIGHTS)
            # The table says where in short; the cell's tooltip (and the weights panel) names the package.
            item.setText(weights_text(status, short=True))
            item.setToolTip(weights_text(status))
            item.setForeground(QBrush(AVAILABLE if status else MISSING))

    def set_input_size(self, size: int) -> None:
        """The Input column shows the size training will use (the Augment page's), not the pretraining size."""
        for row, name in enumerate(self.names):
            item = self.item(row, INPUT)
            item.setText(f"{size} px")
            item.setToolTip(f"Training resizes every image to {size} px (Augment page); {name} was pretrained at {ARCHS[name].input_size} px")

    def set_speed(self, name: str, images_per_s: float, device: str) -> None:
        item = self.item(self.row_of(name), SPEED)
        item.setText(f"{images_per_s:,.0f} img/s")
        item.setToolTip(f"Inference (forward pass), batch {SPEED_BATCH} at {SPEED_SIZE} px on {device}, measured on this machine")

    def set_recommended(self, name: str, reason: str) -> None:
        self.recommended = name
        for row, arch in enumerate(self.names):
            item = self.item(row, NAME)
            item.setText(arch + (RECOMMENDED if arch == name else ""))
            font = QFont(item.font())
            font.setBold(arch == name)
            item.setFont(font)
            if arch == name:
                item.setToolTip(reason)
        self.resizeColumnToContents(NAME)

    def _selection_changed(self) -> None:
        name = self.selected_arch()
        if name is not None:
            self.arch_selected.emit(name)
