"""Data: open a dataset (drop, dialogs, demo), see its summary and a gallery of every image."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog, QHBoxLayout, QLabel, QPushButton, QSplitter, QStackedWidget, QVBoxLayout, QWidget,
)

from tlstudio.qt import settings
from tlstudio.qt.dataset_loader import DatasetLoader
from tlstudio.qt.pages.base import Page
from tlstudio.qt.resources import DEMO_DATASET, app_icon
from tlstudio.qt.widgets.dataset_summary import DatasetSummary
from tlstudio.qt.widgets.doctor_panel import DoctorPanel
from tlstudio.qt.widgets.edits_bar import EditsBar
from tlstudio.qt.widgets.gallery_model import ITEM_ROLE
from tlstudio.qt.widgets.gallery_view import Gallery
from tlstudio.qt.widgets.image_actions import ImageActions
from tlstudio.qt.widgets.image_viewer import ImageViewerDialog
from tlstudio.qt.widgets.message_banner import MessageBanner
from tlstudio.qt.widgets.run_controls import RunControls
from tlstudio.qt.widgets.skipped_table import SkippedFilesDialog
from tlstudio.qt.widgets.split_controls import SplitControls

EXPECTED = (
    "TL Studio expects a folder with one subfolder of images per class, a folder with train/ and valid/ "
    "(and optionally test/) subfolders, a CSV file with file,label columns, or a .zip of one of these."
)


class DataPage(Page):
    key = "data"
    title = "Data"
    dataset_opened = Signal(str)  # the path the user opened, once its scan succeeded

    def __init__(self, state, parent=None, loader: DatasetLoader | None = None):
        super().__init__(state, parent)
        self.loader = loader or DatasetLoader(parent=self)
        self.loader.started.connect(self._scan_started)
        self.loader.progress.connect(self._scan_progress)
        self.loader.loaded.connect(self._scan_loaded)
        self.loader.failed.connect(self._scan_failed)
        self.loader.cancelled.connect(self._scan_cancelled)
        # Asked before another dataset replaces the open one (the window asks about unsaved work).
        self.may_replace_dataset: Callable[[], bool] = lambda: True
        self.viewer: ImageViewerDialog | None = None
        self._opened: Path | None = None  # what the open dataset was opened from
        self._scanning_with = (0.2, 42)
        self.scanned_with = (0.2, 42)  # (valid_pct, seed) the open dataset was scanned with
        self.skipped_dialog: SkippedFilesDialog | None = None

        self.banner = MessageBanner()
        # Opening is started by a drop, a dialog or the demo button, never from here: no Start.
        self.scan_row = RunControls("", esc_scope=self, esc_help="Cancel opening the dataset (Data page)",
                                    show_start=False)
        self.scan_row.cancel_requested.connect(self.loader.cancel)
        self.scan_label = self.scan_row.status
        self.scan_progress = self.scan_row.bar
        self.cancel_button = self.scan_row.cancel_button
        self.scan_row.hide()

        self.summary = DatasetSummary()
        self.summary.show_skipped_requested.connect(self.show_skipped)
        self.split_controls = SplitControls()
        self.split_controls.resplit_requested.connect(self.resplit)
        self.gallery = Gallery()
        self.gallery.image_activated.connect(self.open_viewer)
        self.summary.chart.class_clicked.connect(self.gallery.show_class)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.summary, 1)
        left_layout.addWidget(self.split_controls)
        self.content = QSplitter(Qt.Orientation.Horizontal)
        self.content.addWidget(left)
        self.content.addWidget(self.gallery)
        self.content.setStretchFactor(0, 0)
        self.content.setStretchFactor(1, 1)
        self.content.setSizes([340, 700])
        self.content.setChildrenCollapsible(False)

        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_empty_state())
        self.stack.addWidget(self.content)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(self.banner)
        layout.addWidget(self.scan_row)
        layout.addWidget(self.stack, 1)
        self.doctor = DoctorPanel()
        self.doctor.edits_changed.connect(lambda _edits: state.commit_edits())
        self.doctor.imbalance_chosen.connect(lambda fix: state.update_train_config(imbalance=fix))
        state.train_config_changed.connect(lambda config: self.doctor.set_imbalance(config.imbalance))
        self.doctor_actions = ImageActions(state, self.doctor.selected_paths)
        self.doctor_actions.attach(self.doctor.tree)
        self.doctor.set_actions(self.doctor_actions)
        layout.addWidget(self.doctor)
        self.edits_bar = EditsBar(state)
        self.edits_bar.rescan_requested.connect(lambda: self._opened and self.open_path(self._opened))
        layout.addWidget(self.edits_bar)
        state.dataset_changed.connect(self.show_dataset)
        self.show_dataset(state.dataset)

    def _build_empty_state(self) -> QWidget:
        empty = QWidget()
        title = QLabel("Drop a dataset anywhere on this window")
        title.setStyleSheet("font-size: 17pt; font-weight: 600;")
        hint = QLabel(EXPECTED, wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        hint.setFixedWidth(560)
        hint.setStyleSheet("color: #5f6368;")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for text, slot in (
            ("Open dataset folder…", self.open_folder_dialog),
            ("Open zip or CSV file…", self.open_file_dialog),
            ("Open demo dataset", self.open_demo),
        ):
            button = QPushButton(text)
            button.setMinimumHeight(32)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        self.demo_button = button
        buttons.addStretch(1)
        layout = QVBoxLayout(empty)
        layout.addStretch(2)
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(8)
        layout.addWidget(title, 0, Qt.AlignmentFlag.AlignHCenter)
        hint_row = QHBoxLayout()  # no alignment flag: a word-wrapped label then gets its full height
        hint_row.addStretch(1)
        hint_row.addWidget(hint)
        hint_row.addStretch(1)
        layout.addLayout(hint_row)
        layout.addSpacing(12)
        layout.addLayout(buttons)
        layout.addStretch(3)
        return empty

    # --- opening -------------------------------------------------------------
    def open_path(self, path: str | Path) -> None:
        """Scan `path`; data without split folders is split with the config's valid_pct and seed."""
        if self.state.dataset is not None and not self.may_replace_dataset():
            return
        config = self.state.train_config
        self._scanning_with = (config.valid_pct, 42 if config.seed is None else config.seed)
        self.loader.load(path, valid_pct=self._scanning_with[0], seed=self._scanning_with[1])

    def resplit(self, valid_pct: float, seed: int) -> None:
        """Split the open dataset again: the new values go to the config, then it is scanned again."""
        if self.state.dataset is None or self._opened is None:
            return
        self.state.update_train_config(valid_pct=valid_pct, seed=seed)
        self.open_path(self._opened)

    def open_demo(self) -> None:
        self.open_path(DEMO_DATASET)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open dataset folder", settings.dialog_folder("dataset"))
        if folder:
            settings.remember_dialog_folder("dataset", Path(folder).parent)  # next time: beside this dataset
            self.open_path(folder)

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open dataset file", settings.dialog_folder("dataset"), "Datasets (*.zip *.csv);;All files (*)"
        )
        if path:
            settings.remember_dialog_folder("dataset", path)
            self.open_path(path)

    def is_scanning(self) -> bool:
        return self.loader.is_running()

    def _scan_started(self, path: str) -> None:
        self.banner.hide()
        self.scan_row.started(f"Scanning {path}…")
        self.scan_row.show()

    def _scan_progress(self, done: int, total: int, message: str) -> None:
        self.scan_row.progress(done, total, f"Scanning {self.loader.path}" + (f": {message}" if message else "…"))

    def _scan_loaded(self, spec) -> None:
        self.take_dataset(spec, self.loader.path, self._scanning_with)
        self.dataset_opened.emit(str(self.loader.path))

    def take_dataset(self, spec, path: Path, scanned_with: tuple[float, int]) -> None:
        """Show `spec`, scanned from `path` with (valid_pct, seed) (here, or by a project being opened)."""
        self.scan_row.finished()
        self.scan_row.hide()
        self._opened = Path(path)
        self.scanned_with = scanned_with
        self.state.set_dataset(spec)
        if spec.skipped:
            n = len(spec.skipped)
            self.banner.show_message(f"{n:,} file{'s were' if n != 1 else ' was'} skipped; see “Show skipped files…”.",
                                     "warning")
        self.state.status_message.emit(f"Opened {path}: {len(spec):,} images in {len(spec.classes)} classes")

    def _scan_failed(self, path: str, message: str) -> None:
        self.scan_row.failed(f"Opening {path}", message)  # the banner says it in full
        self.scan_row.hide()
        kept = " The previous dataset is still open." if self.state.dataset is not None else ""
        self.banner.show_message(
            f"<b>Could not open {html.escape(path)}</b><br>{html.escape(message)}<br>{EXPECTED}{kept}", "error"
        )
        self.state.status_message.emit(f"Could not open {path}")

    def _scan_cancelled(self, path: str) -> None:
        self.scan_row.cancelled()
        self.scan_row.hide()
        self.state.status_message.emit(f"Cancelled opening {path}")

    # --- showing -------------------------------------------------------------
    def show_dataset(self, spec) -> None:
        self.summary.set_spec(spec)
        self.gallery.set_spec(spec)
        self.split_controls.setVisible(spec is not None and spec.seed is not None)
        if spec is not None and spec.seed is not None:
            self.split_controls.set_split(self.scanned_with[0], spec.seed)  # what the dataset was scanned with
        self.stack.setCurrentIndex(0 if spec is None else 1)
        self.doctor.set_spec(spec, self.state.edits)
        self.doctor.set_imbalance(self.state.train_config.imbalance)
        self.doctor.setVisible(spec is not None)

    def show_skipped(self) -> None:
        spec = self.state.dataset
        if spec is None:
            return
        self.skipped_dialog = SkippedFilesDialog(spec.skipped, spec.root, self)
        self.skipped_dialog.show()

    def open_viewer(self, index) -> None:
        spec = self.state.dataset
        if spec is None or not index.isValid():
            return
        item = index.data(ITEM_ROLE)
        if self.viewer is not None:
            self.viewer.close()
        self.viewer = ImageViewerDialog(spec.items[item], spec.labels[item], spec.splits[item], self)
        self.viewer.show()

    def shutdown(self) -> None:
        self.loader.shutdown()
        self.gallery.shutdown()
        self.doctor.shutdown()
        self.edits_bar.shutdown()
