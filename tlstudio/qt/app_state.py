"""What the pages share: the dataset, its edit list, the configs and the trained model.

Pages read from and write to one AppState and react to its signals; they never
talk to each other directly. The edit list (excluded, relabelled, moved
images) is the dataset's own, kept in the app's data folder
(core/edit_store.py) and applied to the spec the next run trains on
(`training_spec`); the model is stale while it was trained on other data.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from tlstudio.core.dataset import edit_store
from tlstudio.core.config import AugmentConfig, TrainConfig
from tlstudio.core.dataset.edits import DatasetEdits
from tlstudio.core.errors import UserFacingError
from tlstudio.qt.long_lived import keep_out_of_gc
from tlstudio.qt.project_state import ProjectState


class AppState(QObject):
    dataset_changed = Signal(object)  # DatasetSpec | None
    augment_changed = Signal(object)  # AugmentConfig
    train_config_changed = Signal(object)  # TrainConfig
    training_changed = Signal(object)  # core.training.TrainResult | None: a usable learner
    status_message = Signal(str)  # one line for the status bar
    navigate_requested = Signal(str)  # page key, e.g. "data"
    edits_changed = Signal(object)  # DatasetEdits of the open dataset
    model_stale_changed = Signal(bool)  # the model was trained on other data than the next run's

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.dataset = None
        self.train_config = TrainConfig()
        self.training = None
        self.edits = DatasetEdits()
        self.model_stale = False
        self.project = ProjectState(self)  # the open project and its current run
        self.stored_evaluation = None  # the trained model's evaluation as its run saved it, if any
        self._training_spec = None  # training_spec(), until the dataset or its edits change

    @property
    def augment(self) -> AugmentConfig:
        return self.train_config.augment

    def set_dataset(self, spec, edits: DatasetEdits | None = None) -> None:
        """`edits`: the list to keep for `spec` (saved); None: the one kept for it."""
        self.dataset = spec
        self._training_spec = None
        self.edits = DatasetEdits()
        if spec is not None and edits is not None:
            self.edits = edits
            self._save_edits()
        elif spec is not None:
            try:
                self.edits = edit_store.load_edits(spec)
            except UserFacingError as exc:
                self.status_message.emit(str(exc))
        self.set_training(None)
        self.dataset_changed.emit(spec)
        self.edits_changed.emit(self.edits)
        keep_out_of_gc(len(spec) if spec is not None else 0)  # the pages hold it now

    # -- the edit list --------------------------------------------------------
    def training_spec(self):
        """The dataset the next run trains on: the open one with its edits
        applied (the same object until the dataset or its edits change)."""
        if self.dataset is None or not len(self.edits):
            return self.dataset
        if self._training_spec is None:
            self._training_spec = self.edits.apply(self.dataset)
        return self._training_spec

    def in_dataset(self, paths) -> list[Path]:
        items = set(self.dataset.items) if self.dataset is not None else set()
        return [Path(p) for p in paths if Path(p) in items]

    def relabel(self, paths, label: str) -> int:
        """Give the open dataset's images among `paths` the label `label`; how many."""
        return self._edit(paths, lambda p: self.edits.relabel(p, label))

    def exclude(self, paths) -> int:
        return self._edit(paths, self.edits.exclude)

    def restore(self, paths) -> int:
        """Forget the edits of `paths`: trained on as the files say."""
        return self._edit(paths, self.edits.restore)

    def _edit(self, paths, change) -> int:
        chosen = self.in_dataset(paths)
        for path in chosen:
            change(path)
        if chosen:
            self.commit_edits()
        return len(chosen)

    def replace_edits(self, edits: DatasetEdits) -> None:
        """The open dataset's edit list is now `edits` (a project's own, as it was saved)."""
        if edits.to_dict() != self.edits.to_dict():
            self.edits = edits
            self.commit_edits()

    def commit_edits(self) -> None:
        """After a change to `self.edits`: keep it, say so, and see whether the model is stale."""
        self._training_spec = None
        self._save_edits()
        self.edits_changed.emit(self.edits)
        self._update_stale()

    def _save_edits(self) -> None:
        if self.dataset is None:
            return
        try:
            edit_store.save_edits(self.dataset, self.edits)
        except OSError as exc:
            self.status_message.emit(f"The edit list could not be saved: {exc.strerror or exc}")

    def _update_stale(self) -> None:
        """Stale: the model was trained on this dataset, but with other edits than the next run's."""
        stale = False
        now, trained = self.training_spec(), self.training
        if trained is not None and now is not None and set(trained.spec.items) <= set(self.dataset.items):
            then = trained.spec
            stale = now.items != then.items or now.labels != then.labels or now.splits != then.splits
        if stale != self.model_stale:
            self.model_stale = stale
            self.model_stale_changed.emit(stale)

    def set_augment(self, augment: AugmentConfig) -> None:
        if augment != self.train_config.augment:
            self.train_config = self.train_config.with_(augment=augment)
            self.augment_changed.emit(augment)
            self.train_config_changed.emit(self.train_config)

    def update_train_config(self, **changes) -> None:
        self.set_train_config(self.train_config.with_(**changes))

    def set_train_config(self, config: TrainConfig) -> None:
        """Every choice at once (a project reopened)."""
        if config != self.train_config:
            augment_changed = config.augment != self.train_config.augment
            self.train_config = config
            if augment_changed:
                self.augment_changed.emit(config.augment)
            self.train_config_changed.emit(config)

    def set_training(self, result, evaluation=None) -> None:
        """`evaluation`: the model's Interpretation on the validation split when it is
        known already (a run of a reopened project), so it need not run again."""
        self.training = result
        self.stored_evaluation = evaluation if result is not None else None
        self._update_stale()
        self.training_changed.emit(result)
        if result is not None and self.dataset is not None:
            keep_out_of_gc(len(self.dataset))  # its copy of the spec, its history

    def navigate(self, key: str) -> None:
        self.navigate_requested.emit(key)
