"""Augment page: fastai's resize and aug_transforms, previewed through fastai's own pipeline.

Every edit writes the AugmentConfig to the shared state at once; the previews
follow after a short debounce, computed in a worker so the window never
stalls. fastai loads in that worker the first time.
"""
from __future__ import annotations


from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
)

from tlstudio.core.events import Progress
from tlstudio.core.jobs.previews import PreviewJob
from tlstudio.qt.engine import engine_task
from tlstudio.qt.pages.base import NEEDS_DATASET, Page
from tlstudio.qt.widgets.augment_controls import AugmentControls
from tlstudio.qt.widgets.gallery_model import ITEM_ROLE
from tlstudio.qt.widgets.gallery_view import Gallery
from tlstudio.qt.widgets.image_grid import ImageGrid
from tlstudio.qt.widgets.message_banner import MessageBanner
from tlstudio.qt.workers import TaskSlot

DEBOUNCE_MS = 120  # plus ~150 ms of pipeline work on small images: ~300 ms per update
PICKER_HEIGHT = 190  # the filter bar and two rows of thumbnails


class AugmentPage(Page):
    key = "augment"
    title = "Augment"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        self.seed = 0
        self.previews: dict | None = None  # the last result shown
        self._dirty = True
        self.slot = TaskSlot(self)
        self.slot.running_changed.connect(self._running)
        self.timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.timer.timeout.connect(self.refresh_previews)

        self.controls = AugmentControls(state.augment)
        self.controls.changed.connect(self._controls_changed)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.controls)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setFixedWidth(300)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.item_index = 0  # the dataset image the 3x3 grid augments
        self._full_name = ""
        self.image_name = QLabel()
        self.image_name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A long file name is elided to the space there is (whole in the tooltip); it never widens the page.
        self.image_name.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.reshuffle = QPushButton("Reshuffle")
        self.reshuffle.setToolTip("Draw new random augmentations and a new batch")
        self.reshuffle.clicked.connect(self.reshuffle_previews)
        bar = QHBoxLayout()
        bar.addWidget(self.image_name, 1)
        bar.addWidget(self.reshuffle)

        self.grid = ImageGrid(3, 3, tile=104, min_tile=64)
        grid_box = QGroupBox("One image, nine draws")
        grid_box.setToolTip("The chosen image through the training pipeline nine times, each with new random draws")
        QVBoxLayout(grid_box).addWidget(self.grid)
        self.batch = ImageGrid(4, 4, tile=96, captions=True, min_tile=48)
        self.batch.setToolTip("Click an image to see its augmentations on the left")
        self.batch.tile_clicked.connect(self._batch_tile_clicked)
        batch_box = QGroupBox("A training batch, as the model sees it")
        QVBoxLayout(batch_box).addWidget(self.batch)
        grids = QHBoxLayout()
        grids.addWidget(grid_box, 3)
        grids.addWidget(batch_box, 4)

        self.busy = QProgressBar(maximum=0, textVisible=False)
        self.busy.setFixedWidth(80)
        self.busy.hide()
        self.status = QLabel()
        self.status.setStyleSheet("color: #555;")
        status_row = QHBoxLayout()
        status_row.addWidget(self.busy)
        status_row.addWidget(self.status, 1)
        self.pipeline = QLabel(wordWrap=True)
        self.pipeline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pipeline.setStyleSheet("color: #555;")
        self.banner = MessageBanner()

        self.picker = Gallery(thumb_size=QSize(56, 56))
        self.picker.setFixedHeight(PICKER_HEIGHT)
        self.picker.count_label.hide()  # the Data page counts; here the bar must fit beside the controls
        self.picker.view.setToolTip("Click an image to see nine augmented versions of it above")
        self.picker.view.clicked.connect(self._picker_clicked)
        picker_box = QGroupBox("Choose the image to augment")
        QVBoxLayout(picker_box).addWidget(self.picker)

        right = QVBoxLayout()
        right.addLayout(bar)
        right.addWidget(self.banner)
        right.addLayout(grids, 1)
        right.addLayout(status_row)
        right.addWidget(self.pipeline)
        right.addWidget(picker_box)
        layout = QHBoxLayout(self)
        layout.addWidget(scroll)
        layout.addLayout(right, 1)

        state.augment_changed.connect(self._state_augment_changed)
        state.train_config_changed.connect(self._train_config_changed)
        state.dataset_changed.connect(self._dataset_changed)
        self._dataset_changed(state.dataset)

    def missing(self):
        return NEEDS_DATASET if self.state.dataset is None else None

    def shutdown(self) -> None:
        self.timer.stop()
        self.slot.cancel()
        self.picker.shutdown()

    # -- reacting to changes ------------------------------------------------

    def _controls_changed(self, config) -> None:
        self.state.set_augment(config)
        self.schedule_previews()

    def _state_augment_changed(self, config) -> None:
        if config != self.controls.config():
            self.controls.set_config(config)
            self.schedule_previews()

    def _train_config_changed(self, config) -> None:
        # Normalize's statistics follow the architecture (the pipeline line shows them).
        if self.previews is not None and self.previews.get("arch") != config.arch:
            self.schedule_previews()

    def _dataset_changed(self, spec) -> None:
        self.slot.cancel()
        self.previews = None
        self.grid.clear()
        self.batch.clear()
        self.picker.set_spec(spec)
        self.item_index = self._first_training_image(spec)
        self._show_image_name()
        self.schedule_previews()

    @staticmethod
    def _first_training_image(spec) -> int:
        if spec is None:
            return 0
        return next((i for i, s in enumerate(spec.splits) if s == "train"), 0)

    def _batch_tile_clicked(self, tile: int) -> None:
        if self.previews is not None and tile < len(self.previews["batch_items"]):
            self.choose_image(self.previews["batch_items"][tile])

    def _picker_clicked(self, index) -> None:
        if index.isValid():
            self.choose_image(index.data(ITEM_ROLE))

    def choose_image(self, item: int) -> None:
        """Augment dataset image `item` (an index into the spec's items) in the 3x3 grid."""
        if item != self.item_index:
            self.item_index = item
            self._show_image_name()
            self.schedule_previews()

    def _show_image_name(self) -> None:
        spec = self.state.dataset
        if spec is None or not spec.items:
            self.image_name.setText("")
            return
        i = self.item_index
        path = spec.items[i]
        self._full_name = f"Image: {path.parent.name}/{path.name}  ·  {spec.labels[i]}  ·  {spec.splits[i]}"
        self.image_name.setToolTip(str(path))
        self._elide_image_name()

    def _elide_image_name(self) -> None:
        metrics = self.image_name.fontMetrics()
        self.image_name.setText(metrics.elidedText(self._full_name, Qt.TextElideMode.ElideMiddle, self.image_name.width()))

    def resizeEvent(self, event):  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._elide_image_name()

    def reshuffle_previews(self) -> None:
        self.seed += 1
        self.refresh_previews()

    def schedule_previews(self) -> None:
        """Debounce: a burst of edits (a held spin-box arrow) computes once."""
        self._dirty = True
        if self.isVisible():
            self.timer.start()

    def showEvent(self, event):  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._dirty:
            self.timer.start()

    # -- the worker ---------------------------------------------------------

    def refresh_previews(self) -> None:
        spec = self.state.dataset
        if spec is None:
            return
        self._dirty = False
        job = PreviewJob(spec, self.state.augment, self.item_index, self.seed, self.state.train_config.arch)
        self.slot.start(
            engine_task(job),
            name="augment-preview",
            on_event=self._event,
            on_success=self._show,
            on_failure=self._failed,
        )

    def _event(self, event) -> None:
        if isinstance(event, Progress):
            self.status.setText(event.message)

    def _running(self, running: bool) -> None:
        self.busy.setVisible(running)
        if not running and not self.banner.text():
            self.status.setText("")

    def _show(self, result) -> None:
        if result is None:
            return
        self.banner.hide()
        self.previews = result
        self.grid.set_images(result["grid"])
        self.batch.set_images(result["batch"], result["labels"])
        self.pipeline.setText("fastai pipeline (training split): " + "  →  ".join(result["pipeline"]))

    def _failed(self, message: str) -> None:
        self.banner.show_message(f"Could not preview the augmentations: {message}")
