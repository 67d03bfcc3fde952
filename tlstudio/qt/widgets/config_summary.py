"""What the next training run will do, in a few lines, plus the options that
belong to the run itself (keep the best epoch, early stopping), editable here.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QSpinBox, QWidget

from tlstudio.core.dataset import imbalance
from tlstudio.core.config import AUGMENT_PRESETS, AugmentConfig, TrainConfig
from tlstudio.core.printable import printable
from tlstudio.qt.widgets.lr_plot import format_lr


def describe_augment(a: AugmentConfig) -> str:
    resize = f"{a.size} px ({a.resize_method})"
    for name, preset in AUGMENT_PRESETS.items():
        if preset.with_(size=a.size, resize_method=a.resize_method, normalize=a.normalize) == a:
            return f"{resize}, augmentation: {name}"
    if not a.enabled:
        return f"{resize}, no augmentation"
    parts = []
    if a.do_flip:
        parts.append("flip" + (" + vertical" if a.flip_vert else ""))
    if a.max_rotate:
        parts.append(f"rotate ±{a.max_rotate:g}°")
    if a.max_zoom > 1:
        parts.append(f"zoom ≤{a.max_zoom:g}")
    if a.max_lighting:
        parts.append(f"lighting {a.max_lighting:g}")
    if a.max_warp:
        parts.append(f"warp {a.max_warp:g}")
    if a.min_scale < 1:
        parts.append(f"random crop ≥{a.min_scale:g}")
    return f"{resize}, augmentation: custom ({', '.join(parts) or 'none active'})"


def describe_stage1(c: TrainConfig) -> str:
    if c.freeze_epochs <= 0:
        return "skipped"
    text = f"{c.freeze_epochs} epoch{'s' if c.freeze_epochs != 1 else ''} at {format_lr(c.stage1_lr)}"
    if c.head_lr is None:
        text += " (base rate)"
    return text + (", fast head on cached features" if c.fast_head else "")


def describe_stage2(c: TrainConfig) -> str:
    if c.epochs <= 0:
        return "skipped"
    groups = "all layer groups" if c.unfreeze_depth is None else f"last {c.unfreeze_depth} layer group{'s' if c.unfreeze_depth != 1 else ''}"
    return (
        f"unfreeze {groups}, {c.epochs} epoch{'s' if c.epochs != 1 else ''}, "
        f"slice({format_lr(c.base_lr / c.lr_mult)}, {format_lr(c.base_lr)})"
    )


class ConfigSummary(QWidget):
    """Emits `options_changed(changes)`, TrainConfig fields (keep_best,
    early_stopping_patience, bs, imbalance), when the user edits them."""

    options_changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(4)
        self.labels: dict[str, QLabel] = {}
        self.bs = QSpinBox(minimum=1, maximum=4096)
        self.bs.setToolTip("Images per training batch: larger is faster per image but needs more memory; "
                           "fastai's default is 64, smaller batches suit small datasets")
        self.bs.setKeyboardTracking(False)
        self.bs.setMaximumWidth(90)
        for key, title in (
            ("model", "Model"),
            ("images", "Images"),
            ("bs", "Batch size"),
            ("stage1", "Stage 1 (body frozen)"),
            ("stage2", "Stage 2"),
        ):
            if key == "bs":
                form.addRow(title + ":", self.bs)
                continue
            label = QLabel()
            label.setWordWrap(True)
            self.labels[key] = label
            form.addRow(title + ":", label)
        self.keep_best = QCheckBox("Keep the most accurate epoch, not the last")
        self.keep_best.setToolTip(
            "Keep the weights of the epoch with the highest validation accuracy (of equally accurate epochs, "
            "the one with the lower validation loss), not those after the last epoch; both are measured after "
            "every epoch"
        )
        self.early_stop = QCheckBox("Stop early after")
        self.early_stop.setToolTip("Stop the run when the validation loss has not improved for this many epochs")
        self.patience = QSpinBox(minimum=1, maximum=100, value=3, suffix=" epochs without improvement")
        self.patience.setToolTip(self.early_stop.toolTip())
        row = QHBoxLayout()
        row.addWidget(self.early_stop)
        row.addWidget(self.patience)
        row.addStretch(1)
        self.imbalance = QComboBox()
        self.imbalance.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for fix in imbalance.FIXES:
            self.imbalance.addItem(imbalance.TITLES[fix], fix)
        self.imbalance.setToolTip(
            "For classes of very different sizes: weigh each class's loss by the inverse of its number of "
            "training images, or draw the small classes' images more often; both stages use it"
        )
        form.addRow("Weights:", self.keep_best)
        form.addRow("Early stopping:", row)
        imbalance_row = QHBoxLayout()
        imbalance_row.addWidget(self.imbalance)
        imbalance_row.addStretch(1)
        form.addRow("Class imbalance:", imbalance_row)
        self.imbalance.currentIndexChanged.connect(self._emit)
        self.keep_best.toggled.connect(self._emit)
        self.early_stop.toggled.connect(self._emit)
        self.patience.valueChanged.connect(self._emit)
        self.bs.valueChanged.connect(self._emit)
        self._updating = False
        self._config: TrainConfig | None = None
        self._start_from: str | None = None

    def set_start_from(self, label: str | None) -> None:
        """The run starts from your own model `label` (None: the ImageNet or random weights)."""
        self._start_from = label
        if self._config is not None:
            self._show_model(self._config)

    def _show_model(self, c: TrainConfig) -> None:
        if self._start_from is not None:
            text = f"{c.arch}, from {printable(self._start_from)}"  # one line at 1024 px
        else:
            text = f"{c.arch}, " + ("pretrained" if c.pretrained else "random weights (from scratch)")
        self.labels["model"].setText(text)

    def set_config(self, c: TrainConfig) -> None:
        self._config = c
        self._show_model(c)
        self.labels["images"].setText(describe_augment(c.augment))
        self.labels["stage1"].setText(describe_stage1(c))
        self.labels["stage2"].setText(describe_stage2(c))
        self._updating = True
        self.bs.setValue(c.bs)
        self.keep_best.setChecked(c.keep_best)
        self.early_stop.setChecked(c.early_stopping_patience is not None)
        if c.early_stopping_patience is not None:
            self.patience.setValue(c.early_stopping_patience)
        self.patience.setEnabled(c.early_stopping_patience is not None)
        self.imbalance.setCurrentIndex(max(self.imbalance.findData(c.imbalance), 0))
        self._updating = False

    def _emit(self, *_args) -> None:
        self.patience.setEnabled(self.early_stop.isChecked())
        if not self._updating:
            patience = self.patience.value() if self.early_stop.isChecked() else None
            self.options_changed.emit({
                "keep_best": self.keep_best.isChecked(), "early_stopping_patience": patience, "bs": self.bs.value(),
                "imbalance": self.imbalance.currentData(),
            })

    def set_editable(self, editable: bool) -> None:
        self.bs.setEnabled(editable)
        self.keep_best.setEnabled(editable)
        self.imbalance.setEnabled(editable)
        self.early_stop.setEnabled(editable)
        self.patience.setEnabled(editable and self.early_stop.isChecked())
