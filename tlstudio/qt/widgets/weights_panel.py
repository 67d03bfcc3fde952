"""Pretrained on/off and the chosen architecture's weights: status, Download, Import.

Downloads and imports run in a worker; a download that cannot reach the
network ends in one clear message offering Import, never a hang.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tlstudio.core.events import DownloadProgress
from tlstudio.core.models.weights import weights_available
from tlstudio.qt.settings import dialog_folder, remember_dialog_folder
from tlstudio.core.jobs.data import DownloadWeightsJob, ImportWeightsJob
from tlstudio.qt.engine import engine_task
from tlstudio.qt.widgets.arch_table import AVAILABLE, MISSING, weights_text
from tlstudio.qt.widgets.message_banner import MessageBanner
from tlstudio.qt.workers import TaskSlot


class WeightsPanel(QWidget):
    pretrained_toggled = Signal(bool)
    weights_changed = Signal(str, object)  # arch, Path of the weights file now on this machine

    def __init__(self, parent: QWidget | None = None, banner: MessageBanner | None = None):
        """`banner`: where messages go (the page's full-width one); by default one of its own below the buttons."""
        super().__init__(parent)
        self.arch: str | None = None
        self.slot = TaskSlot(self)
        self.slot.running_changed.connect(self._running)

        self.pretrained = QCheckBox("Start from ImageNet weights (recommended)")
        self.pretrained.setToolTip("On: the network starts from weights pretrained on ImageNet. Off: from random weights, which needs far more images and epochs")
        self.pretrained.toggled.connect(self._pretrained_toggled)
        self.status = QLabel(wordWrap=True)
        self.download = QPushButton("Download")
        self.download.clicked.connect(self.start_download)
        self.import_button = QPushButton("Import weights file…")
        self.import_button.setToolTip("A torchvision/timm ImageNet .pth for this architecture; it is checked, then kept in the torch hub cache")
        self.import_button.clicked.connect(lambda: self.import_weights())
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_work)
        self.progress = QProgressBar()
        self.progress.setFormat("%p%")
        self._own_banner = banner is None
        self.banner = banner or MessageBanner()

        buttons = QHBoxLayout()
        buttons.addWidget(self.download)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.cancel)
        buttons.addStretch(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pretrained)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        if self._own_banner:
            layout.addWidget(self.banner)
        self._running(False)

    def set_arch(self, arch: str, pretrained: bool) -> None:
        if arch != self.arch:
            self.slot.cancel()
            self.banner.hide()
        self.arch = arch
        self.pretrained.blockSignals(True)
        self.pretrained.setChecked(pretrained)
        self.pretrained.blockSignals(False)
        self.refresh()

    def status_text(self) -> str:
        return self.status.text()

    def refresh(self) -> None:
        if self.arch is None:
            return
        available = weights_available(self.arch)
        text = f"{self.arch} weights: {weights_text(available)}."
        if not available and self.pretrained.isChecked():
            text += " Download or import them to train pretrained, or train from scratch."
        elif not self.pretrained.isChecked():
            text += " Not used: training starts from random weights."
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {(AVAILABLE if available else MISSING).name()};")
        self.download.setVisible(not available)
        self._running(self.slot.is_running())

    def start_download(self) -> None:
        arch = self.arch
        self.banner.hide()
        self.progress.setRange(0, 0)
        self.slot.start(
            engine_task(DownloadWeightsJob(arch)),
            name=f"download-{arch}",
            on_event=self._download_event,
            on_success=lambda path: self._done(arch, path, f"Downloaded the {arch} weights to {path}."),
            on_failure=self._failed,
            on_cancel=lambda: self.banner.show_message(f"Download of the {arch} weights cancelled.", "info"),
        )

    def import_weights(self, path: str | None = None) -> None:
        """Check and import a weights file for the current architecture (asks for one when `path` is None)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, f"Import {self.arch} ImageNet weights", dialog_folder("weights"),
                "PyTorch weights (*.pth *.pt *.bin *.safetensors);;All files (*)",
            )
            if not path:
                return
            remember_dialog_folder("weights", path)
        arch = self.arch
        self.banner.hide()
        self.progress.setRange(0, 0)
        self.slot.start(
            engine_task(ImportWeightsJob(arch, path)),
            name=f"import-{arch}",
            on_success=lambda dst: self._done(arch, dst, f"Imported {path} as the {arch} weights."),
            on_failure=self._failed,
        )

    def cancel_work(self) -> None:
        self.slot.cancel()
        self.banner.show_message("Cancelled.", "info")

    def shutdown(self) -> None:
        self.slot.cancel()

    def _download_event(self, event) -> None:
        if isinstance(event, DownloadProgress) and event.total_bytes:
            self.progress.setRange(0, event.total_bytes)
            self.progress.setValue(event.done_bytes)

    def _done(self, arch: str, path, message: str) -> None:
        self.banner.show_message(message, "info")
        self.refresh()
        self.weights_changed.emit(arch, Path(path))

    def _failed(self, message: str) -> None:
        self.banner.show_message(message, "error")

    def _pretrained_toggled(self, on: bool) -> None:
        self.refresh()
        self.pretrained_toggled.emit(on)

    def _running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel.setVisible(running)
        self.download.setEnabled(not running)
        self.import_button.setEnabled(not running and self.arch is not None)
