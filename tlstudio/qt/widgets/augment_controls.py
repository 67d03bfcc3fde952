"""Controls for fastai's item resize, `aug_transforms` arguments and normalization.

Edits an `AugmentConfig`; `changed(config)` fires on every user edit. A preset
combo fills every control at once and shows "custom" once a control departs
from the preset.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tlstudio.core.config import AUGMENT_PRESETS, AugmentConfig

CUSTOM = "custom"
# field -> (label, minimum, maximum, step, decimals, suffix, tooltip)
FLOAT_FIELDS = {
    "max_rotate": ("Max rotate", 0.0, 90.0, 5.0, 0, "°", "Each training image is rotated by an angle drawn uniformly in ±this many degrees"),
    "min_zoom": ("Min zoom", 0.5, 1.0, 0.05, 2, "×", "Below 1 also zooms out, filling the border by reflection"),
    "max_zoom": ("Max zoom", 1.0, 3.0, 0.05, 2, "×", "Each training image is zoomed by a factor drawn between min and max zoom"),
    "max_warp": ("Max warp", 0.0, 0.6, 0.05, 2, "", "Strength of a random perspective warp, as if seen from a slightly different angle"),
    "p_affine": ("p(affine)", 0.0, 1.0, 0.05, 2, "", "Probability that rotate, zoom and warp are applied to an image at all"),
    "max_lighting": ("Max lighting", 0.0, 0.9, 0.05, 2, "", "Largest random change of brightness and contrast (0.2: up to 20 %)"),
    "p_lighting": ("p(lighting)", 0.0, 1.0, 0.05, 2, "", "Probability that an image gets a brightness/contrast change"),
    "min_scale": ("Min scale", 0.1, 1.0, 0.05, 2, "", "Below 1: a random crop keeping at least this share of the image's area, resized back"),
}
CHECK_TIPS = {
    "enabled": "Off: training images are only resized, like validation images",
    "do_flip": "Mirror training images left to right at random (half of them)",
    "flip_vert": "Also flip top to bottom and turn by 90°: for images with no up, such as micrographs or aerial photos",
}
RESIZE_METHODS = {"crop": "Crop", "pad": "Pad (reflection)", "squish": "Squish"}
# "imagenet" normalises with the statistics the chosen architecture's weights
# expect (ImageNet's for most; 0.5/0.5 for tf_efficientnet_lite0).
NORMALIZATION = {"imagenet": "The model's mean/std", "none": "None (0–1 pixels)"}


class AugmentControls(QWidget):
    changed = Signal(object)  # AugmentConfig

    def __init__(self, config: AugmentConfig | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._config = config or AugmentConfig()
        self._updating = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 10, 0)

        self.preset = QComboBox()
        self.preset.addItems([*AUGMENT_PRESETS, CUSTOM])
        self.preset.setToolTip("Fill every control from a preset; editing a control makes it custom")
        self.preset.currentTextChanged.connect(self._preset_chosen)
        top = QFormLayout()
        preset_label = QLabel("Preset")
        preset_label.setToolTip(self.preset.toolTip())
        top.addRow(preset_label, self.preset)
        layout.addLayout(top)

        resize = QGroupBox("Item resize (per image)")
        form = QFormLayout(resize)
        self.size = QSpinBox(minimum=16, maximum=1024, singleStep=16, suffix=" px")
        self.size.setToolTip("Every image is resized to a square of this side before batching")
        self.method = QComboBox()
        self.method.setToolTip("Crop: a random square on training images, the centre on validation ones")
        for key, text in RESIZE_METHODS.items():
            self.method.addItem(text, key)
        for text, widget in (("Size", self.size), ("Method", self.method)):
            row_label = QLabel(text)
            row_label.setToolTip(widget.toolTip())
            form.addRow(row_label, widget)
        layout.addWidget(resize)

        # No tooltip on the group: each control and its label has its own.
        aug = QGroupBox("aug_transforms (training batches)")
        form = QFormLayout(aug)
        self.enabled = QCheckBox("Augment training batches")
        self.do_flip = QCheckBox("Horizontal flip")
        self.flip_vert = QCheckBox("Vertical flip and 90° turns")
        for name in CHECK_TIPS:
            getattr(self, name).setToolTip(CHECK_TIPS[name])
        form.addRow(self.enabled)
        form.addRow(self.do_flip)
        form.addRow(self.flip_vert)
        self.spins: dict[str, QDoubleSpinBox] = {}
        for name, (label, lo, hi, step, decimals, suffix, tip) in FLOAT_FIELDS.items():
            spin = QDoubleSpinBox(minimum=lo, maximum=hi, singleStep=step, decimals=decimals, suffix=suffix)
            spin.setToolTip(tip)
            spin.setKeyboardTracking(False)
            self.spins[name] = spin
            row_label = QLabel(label)
            row_label.setToolTip(tip)
            row_label.setBuddy(spin)
            form.addRow(row_label, spin)
        layout.addWidget(aug)
        self._aug_group = aug

        norm = QGroupBox("Normalization")
        form = QFormLayout(norm)
        self.normalize = QComboBox()
        for key, text in NORMALIZATION.items():
            self.normalize.addItem(text, key)
        self.normalize.setToolTip("Pretrained weights expect images normalised with the statistics they were trained on")
        row_label = QLabel("Normalize")
        row_label.setToolTip(self.normalize.toolTip())
        form.addRow(row_label, self.normalize)
        layout.addWidget(norm)
        layout.addStretch(1)

        self.size.valueChanged.connect(self._edited)
        self.method.currentIndexChanged.connect(self._edited)
        self.normalize.currentIndexChanged.connect(self._edited)
        for box in (self.enabled, self.do_flip, self.flip_vert):
            box.toggled.connect(self._edited)
        for spin in self.spins.values():
            spin.valueChanged.connect(self._edited)
        self.set_config(self._config)

    def config(self) -> AugmentConfig:
        return self._config

    def set_config(self, config: AugmentConfig) -> None:
        """Show `config` without emitting `changed`."""
        self._config = config
        self._updating = True
        try:
            self.size.setValue(config.size)
            self.method.setCurrentIndex(self.method.findData(config.resize_method))
            self.normalize.setCurrentIndex(self.normalize.findData(config.normalize))
            self.enabled.setChecked(config.enabled)
            self.do_flip.setChecked(config.do_flip)
            self.flip_vert.setChecked(config.flip_vert)
            for name, spin in self.spins.items():
                spin.setValue(getattr(config, name))
            self.preset.setCurrentText(self.preset_name(config))
        finally:
            self._updating = False
        self._enable_aug_fields()

    @staticmethod
    def preset_name(config: AugmentConfig) -> str:
        """The preset this config equals apart from the resize and normalization, or "custom"."""
        for name, preset in AUGMENT_PRESETS.items():
            same = preset.with_(size=config.size, resize_method=config.resize_method, normalize=config.normalize)
            if same == config or (not preset.enabled and not config.enabled):
                return name
        return CUSTOM

    def _read(self) -> AugmentConfig:
        values = {name: spin.value() for name, spin in self.spins.items()}
        return self._config.with_(
            size=self.size.value(),
            resize_method=self.method.currentData(),
            normalize=self.normalize.currentData(),
            enabled=self.enabled.isChecked(),
            do_flip=self.do_flip.isChecked(),
            flip_vert=self.flip_vert.isChecked(),
            **values,
        )

    def _edited(self, *_args) -> None:
        if self._updating:
            return
        config = self._read()
        if config.max_zoom < config.min_zoom:
            config = config.with_(max_zoom=config.min_zoom)
        self.set_config(config)
        self.changed.emit(config)

    def _preset_chosen(self, name: str) -> None:
        if self._updating or name == CUSTOM:
            return
        c = self._config
        config = AUGMENT_PRESETS[name].with_(size=c.size, resize_method=c.resize_method, normalize=c.normalize)
        self.set_config(config)
        self.changed.emit(config)

    def _enable_aug_fields(self) -> None:
        on = self.enabled.isChecked()
        for w in (self.do_flip, self.flip_vert, *self.spins.values()):
            w.setEnabled(on)
