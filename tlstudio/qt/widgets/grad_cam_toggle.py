"""A "Grad-CAM" check box for an image view: on, the view's thumbnails show where the model looks.

The maps come from `core.grad_cam.overlays` (plain numpy arrays) on a worker
thread, holding the learner's lock; this side only turns the arrays into
pixmaps and hands them to the view (`show(dict path -> QPixmap)`, an empty
dict to go back to the plain thumbnails). At most MAX_IMAGES of the view's
images get a map, in the order shown.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QCheckBox, QWidget

from tlstudio.core.jobs.delivery import GradCamJob
from tlstudio.qt.engine import engine_task
from tlstudio.qt.workers import TaskSlot

MAX_IMAGES = 64
CAM_FORMATS = ("in memory", "tlsmodel", "pkl")  # ONNX and TorchScript run without the network
TIP = "Overlay Grad-CAM heat maps: red where the model looks for the class it predicts, blue where it does not"


def pixmap_of(rgb: np.ndarray) -> QPixmap:
    """A QPixmap of a uint8 (H, W, 3) array (copied: the array may go)."""
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    return QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


class GradCamToggle(QCheckBox):
    """`model()`: the learner (or loaded model) to explain, or None; `paths()`:
    the view's images, in order; `show(overlays)`: draw them."""

    def __init__(self, model: Callable[[], object], paths: Callable[[], list[Path]],
                 show: Callable[[dict], None], parent: QWidget | None = None):
        super().__init__("Grad-CAM", parent)
        self.model, self.paths, self.show_overlays = model, paths, show
        self.setToolTip(TIP)
        self.slot = TaskSlot(self)
        self.overlays: dict[Path, QPixmap] = {}
        self.error = ""
        self.toggled.connect(self.refresh)

    def refresh(self, *_args) -> None:
        """Compute the maps for what the view shows now (or clear them when off)."""
        self.slot.cancel()
        self.overlays = {}
        self.error = ""
        self.show_overlays({})
        model = self.model()
        # A model held in the engine (the trained one, or a loaded file) whose network is there to look into.
        usable = model is not None and getattr(model, "format", None) in CAM_FORMATS
        self.setEnabled(usable)
        self.setToolTip(TIP if usable else f"{TIP}\n\nNeeds the trained model, a .tlsmodel or a .pkl: "
                        "ONNX and TorchScript files run without the network it looks into")
        if not self.isChecked() or not usable:
            return
        paths = list(self.paths())[:MAX_IMAGES]
        if not paths:
            return
        self.setText("Grad-CAM (computing…)")
        self.slot.start(engine_task(GradCamJob(model.model_id, paths)), name="grad-cam", on_success=self._done, on_failure=self._failed,
                        on_cancel=lambda: self.setText("Grad-CAM"))

    def is_running(self) -> bool:
        return self.slot.is_running()

    def _done(self, results) -> None:
        self.setText("Grad-CAM")
        self.overlays = {r.path: pixmap_of(r.overlay) for r in results}
        self.show_overlays(self.overlays)

    def _failed(self, message: str) -> None:
        self.setText("Grad-CAM (failed)")
        self.error = message
        self.setToolTip(f"{TIP}\n\nCould not compute them: {message}")

    def shutdown(self) -> None:
        self.slot.stop_and_wait()
