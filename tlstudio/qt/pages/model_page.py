"""Model page: architecture, pretrained weights, unfreeze depth and the two training stages.

Every choice lands in `state.train_config` at once. The starting point is the
ImageNet weights of an architecture, or one of your own models ("Your models":
a run of a project, or a .tlsmodel); `start_from` names the latter, and the
Train page's runs follow `start_from_changed`. The layer groups are the
real fastai ones, read in a worker from the model `build_learner` makes
(structure only, on torch's meta device); speeds are measured on demand and
remembered in QSettings.
"""
from __future__ import annotations

import sys

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from tlstudio.core.events import Progress
from tlstudio.core.models.registry import ARCHS
from tlstudio.core.models.weights import weights_available
from tlstudio.core.training.advice import recommend_arch, recommend_depth
from tlstudio.core.training.speed import SPEED_BATCH, SPEED_SIZE
from tlstudio.core.jobs.previews import LayerGroupsJob, SpeedJob
from tlstudio.core.printable import printable
from tlstudio.core.project.layout import ProjectError
from tlstudio.core.project.model_list import dataset_name, display_label
from tlstudio.core.project.starting_model import StartingModel, starting_model
from tlstudio.qt import settings
from tlstudio.qt.engine import engine_task
from tlstudio.qt.pages.base import NEEDS_DATASET, Page
from tlstudio.qt.widgets.arch_table import ArchTable
from tlstudio.qt.widgets.depth_control import DepthControl
from tlstudio.qt.widgets.message_banner import MessageBanner
from tlstudio.qt.widgets.own_models import OwnModels
from tlstudio.qt.widgets.stage_settings import StageSettings
from tlstudio.qt.widgets.weights_panel import WeightsPanel
from tlstudio.qt.workers import TaskSlot

SPEED_KEY = "model/speed/{arch}"  # "<images per second> <device>"


def start_text(start: StartingModel, n_classes: int | None, size: int) -> str:
    """What a run from `start` does, and what does not match, in plain words."""
    head = f"a new head for {n_classes} classes" if n_classes else "a new head for the dataset's classes"
    text = (f"Starts from {display_label(start)} ({start.architecture}, trained on {dataset_name(start)}): "
            f"its body and {len(start.layer_groups)} layer groups are kept, {head}.")
    if size != start.input_size:
        text += (f" It was trained on {start.input_size} px images and this run uses {size} px (Augment page): "
                 f"the body works at either size, but its features were learned at {start.input_size} px.")
    return text


def speed_text(arch: str, images_per_s: float, device: str) -> str:
    return (
        f"{arch}: {images_per_s:,.0f} images/s inference on {device} (batch {SPEED_BATCH}, {SPEED_SIZE} px); "
        "training also runs the backward pass, so it is slower: the Train page shows its images/s"
    )


class ModelPage(Page):
    start_from_changed = Signal(object)  # the run folder or .tlsmodel the next run starts from; None: ImageNet
    key = "model"
    title = "Model"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        self.groups_slot = TaskSlot(self)
        self.speed_slot = TaskSlot(self)
        self.groups_arch: str | None = None  # whose groups the depth control shows
        self._arch_chosen_by_user = False
        self._groups_dirty = False
        self.start_from: str | None = None  # a run folder or .tlsmodel; None: the ImageNet weights
        self.starting: StartingModel | None = None
        # Arrowing through the table starts one read for where the user stops, not one per row.
        self.groups_timer = QTimer(self, singleShot=True, interval=150)
        self.groups_timer.timeout.connect(self._read_groups)

        self.table = ArchTable()
        self.table.arch_selected.connect(self._arch_selected)
        self.measure_button = QPushButton("Measure speed")
        self.measure_button.setToolTip(
            f"Time the selected architecture's inference (forward pass, batch {SPEED_BATCH} at {SPEED_SIZE} px) on this machine"
        )
        self.measure_button.clicked.connect(self.measure_speed)
        self.speed_status = QLabel(wordWrap=True)
        self.speed_status.setStyleSheet("color: #555;")
        self.speed_status.hide()
        self.recommendation = QLabel(wordWrap=True)
        table_row = QHBoxLayout()
        table_row.addWidget(self.recommendation, 1)
        table_row.addWidget(self.measure_button)
        imagenet = QWidget()
        imagenet_layout = QVBoxLayout(imagenet)
        imagenet_layout.setContentsMargins(0, 4, 0, 0)
        imagenet_layout.addWidget(self.table)
        imagenet_layout.addLayout(table_row)
        imagenet_layout.addWidget(self.speed_status)
        self.own = OwnModels()
        self.own.chosen.connect(self.set_start_from)
        self.tabs = QTabWidget()
        self.tabs.addTab(imagenet, "ImageNet architectures")
        own_tab = QWidget()
        own_layout = QVBoxLayout(own_tab)
        own_layout.setContentsMargins(0, 4, 0, 0)
        self.start_line = QLabel(wordWrap=True)
        self.imagenet_button = QPushButton("Use ImageNet weights instead")
        self.imagenet_button.setToolTip("Start the next run from the ImageNet weights of the architecture chosen")
        self.imagenet_button.clicked.connect(lambda: self.set_start_from(None))
        start_row = QHBoxLayout()
        start_row.addWidget(self.start_line, 1)
        start_row.addWidget(self.imagenet_button, 0, Qt.AlignmentFlag.AlignTop)
        self.start_line.hide()
        self.imagenet_button.hide()
        # In the tab, not above both: its lines come out of the list's height, never the page's.
        own_layout.addLayout(start_row)
        own_layout.addWidget(self.own, 1)
        self.tabs.addTab(own_tab, "Your models")
        self._recommendation = ""

        self.banner = MessageBanner()
        self.weights = WeightsPanel(banner=self.banner)  # its messages full width, at the top: never squeezed
        self.weights.pretrained_toggled.connect(lambda on: state.update_train_config(pretrained=on))
        self.weights.weights_changed.connect(self._weights_changed)
        self.weights_box = weights_box = QGroupBox("Pretrained weights")
        QVBoxLayout(weights_box).addWidget(self.weights)

        self.stages = StageSettings()
        self.stages.changed.connect(lambda changes: state.update_train_config(**changes))

        self.depth = DepthControl()
        # A depth the user sets is theirs (`with_` turns auto_depth off); until then the recommendation is used.
        self.depth.depth_changed.connect(lambda d: state.update_train_config(unfreeze_depth=d))
        self.depth_box = QGroupBox("Unfreeze depth (stage 2)")
        QVBoxLayout(self.depth_box).addWidget(self.depth)

        left = QVBoxLayout()
        left.addWidget(weights_box)
        left.addWidget(self.stages)
        left.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addLayout(left, 3)
        bottom.addWidget(self.depth_box, 5)  # its table of groups needs the width
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)  # at 1024 px the group table needs every pixel
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs)  # the tabs are the heading: a group box round them costs the 1024 x 700 window its fit
        layout.addLayout(bottom, 1)

        self._load_speeds()
        state.train_config_changed.connect(self._config_changed)
        state.dataset_changed.connect(self._dataset_changed)
        state.project.changed.connect(lambda _p: self.refresh_models())
        state.training_changed.connect(lambda _r: self.refresh_models())  # a run just finished
        state.augment_changed.connect(lambda _a: self._describe_start())
        self._config_changed(state.train_config)
        self.refresh_models()
        self._dataset_changed(state.dataset)

    def missing(self):
        return NEEDS_DATASET if self.state.dataset is None else None

    def shutdown(self) -> None:
        self.groups_timer.stop()
        for slot in (self.groups_slot, self.speed_slot):
            slot.cancel()
        self.weights.shutdown()

    # -- the shared config --------------------------------------------------

    def _config_changed(self, config) -> None:
        self.table.select_arch(config.arch)
        self.table.set_input_size(config.augment.size)
        self.weights.set_arch(config.arch, config.pretrained)
        self.stages.set_config(config)
        self.depth.set_lrs(config.base_lr, config.lr_mult)
        self.depth.set_depth(config.unfreeze_depth)
        if config.arch != self.groups_arch:
            self.refresh_groups()

    def _arch_selected(self, arch: str) -> None:
        if arch != self.state.train_config.arch:
            self._arch_chosen_by_user = True
            if self.starting is not None:  # another architecture cannot take that model's body
                self.set_start_from(None)
            # An imported file belongs to one architecture.
            self.state.update_train_config(arch=arch, weights_file=None)

    def _weights_changed(self, arch: str, path) -> None:
        self.table.refresh_weights(arch)
        if arch == self.state.train_config.arch:
            self.state.update_train_config(weights_file=path)
        self._recommend()

    def _dataset_changed(self, spec) -> None:
        self.groups_arch = None
        self._recommend()
        self._describe_start()
        if spec is not None and not self._arch_chosen_by_user and self.starting is None and self.table.recommended:
            self.state.update_train_config(arch=self.table.recommended, weights_file=None)
        if self.groups_arch is None:  # the config change above did not start it already
            self.refresh_groups()

    def _recommend(self) -> None:
        spec = self.state.dataset
        if spec is None:
            return
        on_gpu = self.state.train_config.device == "cuda" or (
            "torch" in sys.modules and sys.modules["torch"].cuda.is_available()
        )
        available = {name for name, info in ARCHS.items() if weights_available(name)}
        arch = recommend_arch(spec, on_gpu, available)
        self.table.set_recommended(arch.value, arch.reason)
        self._recommendation = f"★ Recommended for this dataset: {arch.reason}"
        self._show_recommendation()
        n_groups = ARCHS[self.state.train_config.arch].n_groups
        depth = recommend_depth(spec, n_groups, on_gpu=on_gpu)
        self.depth.set_recommendation(depth.value, depth.reason)
        if self.state.train_config.auto_depth:
            self.state.update_train_config(
                unfreeze_depth=None if depth.value >= n_groups else depth.value, auto_depth=True
            )

    # -- starting point: ImageNet weights or your own model ---------------------

    def set_start_from(self, path) -> None:
        """Start the next run from `path` (a run folder or .tlsmodel), or None: the ImageNet weights.
        A model that cannot be read is said on the banner, and the ImageNet weights stay."""
        start = None
        if path is not None and self.own.listed(path) is None:
            self.refresh_models()  # a file just added: listed, or named as unreadable
        if path is not None:
            try:
                start = starting_model(path)
            except ProjectError as exc:
                self.banner.show_message(f"Cannot start from it: {exc}")
                path = None
        source = None if path is None else str(path)
        changed = source != self.start_from
        self.start_from, self.starting = source, start
        if start is not None:
            self._arch_chosen_by_user = True
            if start.architecture != self.state.train_config.arch:
                self.state.update_train_config(arch=start.architecture, weights_file=None)
            self.tabs.setCurrentIndex(1)
        self.own.select_source(source)
        self.weights_box.setEnabled(start is None)
        self.weights_box.setTitle("Pretrained weights" if start is None else "Pretrained weights (not used)")
        self._describe_start()
        self._show_recommendation()
        if changed:
            self.start_from_changed.emit(source)

    def start_label(self) -> str | None:
        """How the Train page names the starting point; None for the ImageNet weights."""
        return None if self.starting is None else display_label(self.starting)

    def refresh_models(self) -> None:
        """List the models of the open and the recent projects, and the added files, again."""
        roots = [] if self.state.project.root is None else [str(self.state.project.root)]
        roots += [r for r in settings.recent_projects() if r not in roots]
        self.own.refresh(roots)
        self.own.select_source(self.start_from)
        self.tabs.setTabText(1, f"Your models ({len(self.own.models)})")

    def _show_recommendation(self) -> None:
        """The ImageNet tab says when the next run starts from a model of your own instead."""
        if self.starting is None:
            self.recommendation.setText(self._recommendation)
        else:
            self.recommendation.setText(f"The next run starts from your model {display_label(self.starting)} "
                                        "(Your models); choosing an architecture here uses its ImageNet weights.")

    def _describe_start(self) -> None:
        start = self.starting
        self.start_line.setVisible(start is not None)
        self.imagenet_button.setVisible(start is not None)
        if start is None:
            return
        spec = self.state.dataset
        self.start_line.setText(printable(start_text(start, len(spec.classes) if spec else None,
                                                     self.state.augment.size)))
        self.start_line.setToolTip(f"{printable(start.path)}\ntrained on {printable(start.trained_on)}")

    def showEvent(self, event):  # noqa: N802 (Qt name)
        super().showEvent(event)
        self.refresh_models()  # another window, or the CLI, may have finished a run
        if self._groups_dirty:
            self.groups_timer.start()

    # -- layer groups (worker) ----------------------------------------------

    def refresh_groups(self) -> None:
        spec, config = self.state.dataset, self.state.train_config
        if spec is None:
            return
        self.groups_arch = config.arch
        self.depth.set_groups([])
        self.depth.placeholder.setText(f"Reading the layer groups of {config.arch}…")
        self._recommend()
        self.groups_slot.cancel()
        # Reading groups builds DataLoaders and a model: not worth it (about 1 GB
        # on 70,000 images) until the user actually looks at this page.
        self._groups_dirty = True
        if self.isVisible():
            self.groups_timer.start()

    def _read_groups(self) -> None:
        spec, config = self.state.dataset, self.state.train_config
        if spec is None:
            return
        self._groups_dirty = False
        self.groups_slot.start(
            engine_task(LayerGroupsJob(spec, config.augment, config.arch)),
            name="model-groups",
            on_event=self._groups_event,
            on_success=self._groups_read,
            on_failure=lambda msg: self.banner.show_message(f"Could not read the layer groups of {config.arch}: {msg}"),
        )

    def _groups_event(self, event) -> None:
        if isinstance(event, Progress):
            self.depth.placeholder.setText(event.message)

    def _groups_read(self, result) -> None:
        arch, groups = result
        if arch != self.state.train_config.arch:
            return
        self.depth.set_groups(groups)
        self.depth_box.setTitle(f"Unfreeze depth (stage 2): the layer groups of {arch}")

    # -- speed (worker, on demand) ------------------------------------------

    def measure_speed(self) -> None:
        spec, arch = self.state.dataset, self.table.selected_arch() or self.state.train_config.arch
        augment = self.state.augment
        self.measure_button.setEnabled(False)
        self.speed_status.setText(f"Measuring {arch}…")
        self.speed_status.show()
        self.speed_slot.start(
            engine_task(SpeedJob(spec, augment, arch)),
            name="model-speed",
            on_event=self._speed_event,
            on_success=self._speed_measured,
            on_failure=self._speed_failed,
        )

    def _speed_event(self, event) -> None:
        if isinstance(event, Progress):
            self.speed_status.setText(event.message)

    def _speed_measured(self, result) -> None:
        arch, images_per_s, device = result
        QSettings().setValue(SPEED_KEY.format(arch=arch), f"{images_per_s!r} {device}")
        self.table.set_speed(arch, images_per_s, device)
        self.speed_status.setText(speed_text(arch, images_per_s, device))
        self.measure_button.setEnabled(True)

    def _speed_failed(self, message: str) -> None:
        self.speed_status.hide()
        self.measure_button.setEnabled(True)
        self.banner.show_message(f"Could not measure the speed: {message}")

    def _load_speeds(self) -> None:
        settings = QSettings()
        for arch in ARCHS:
            value = settings.value(SPEED_KEY.format(arch=arch))
            try:
                speed, device = str(value).split()
                self.table.set_speed(arch, float(speed), device)
            except ValueError:
                pass  # never measured, or an unreadable entry: measure again
