"""What the pages share: the dataset, the configs and the trained model.

Pages read from and write to one AppState and react to its signals; they never
talk to each other directly.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from tlstudio.core.config import AugmentConfig, TrainConfig


class AppState(QObject):
    dataset_changed = Signal(object)  # DatasetSpec | None
    augment_changed = Signal(object)  # AugmentConfig
    train_config_changed = Signal(object)  # TrainConfig
    training_changed = Signal(object)  # core.training.TrainResult | None: a usable learner
    status_message = Signal(str)  # one line for the status bar
    navigate_requested = Signal(str)  # page key, e.g. "data"

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.dataset = None
        self.train_config = TrainConfig()
        self.training = None

    @property
    def augment(self) -> AugmentConfig:
        return self.train_config.augment

    def set_dataset(self, spec) -> None:
        self.dataset = spec
        self.set_training(None)
        self.dataset_changed.emit(spec)

    def set_augment(self, augment: AugmentConfig) -> None:
        if augment != self.train_config.augment:
            self.train_config = self.train_config.with_(augment=augment)
            self.augment_changed.emit(augment)
            self.train_config_changed.emit(self.train_config)

    def update_train_config(self, **changes) -> None:
        config = self.train_config.with_(**changes)
        if config != self.train_config:
            augment_changed = config.augment != self.train_config.augment
            self.train_config = config
            if augment_changed:
                self.augment_changed.emit(config.augment)
            self.train_config_changed.emit(config)

    def set_training(self, result) -> None:
        self.training = result
        self.training_changed.emit(result)

    def navigate(self, key: str) -> None:
        self.navigate_requested.emit(key)
