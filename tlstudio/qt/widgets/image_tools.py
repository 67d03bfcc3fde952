"""The row under an image view: the selection actions (relabel, exclude, undo, show in folder) and the Grad-CAM toggle.

The view provides `selected_paths()`, `paths()` (what it shows, in order)
and `set_overlays(dict path -> QPixmap)`; the Evaluate page's galleries and
the Predict page's table do. Grad-CAM follows what the view shows: when its
rows change, the maps are computed again (once per burst of changes).
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QWidget

from tlstudio.qt.widgets.grad_cam_toggle import GradCamToggle
from tlstudio.qt.widgets.image_actions import ImageActions


class ImageTools(QWidget):
    def __init__(self, state, view, model: Callable[[], object], parent: QWidget | None = None):
        super().__init__(parent)
        self.view, self.state = view, state
        self.actions = ImageActions(state, view.selected_paths)
        self.actions.attach(view)
        self.grad_cam = GradCamToggle(model, view.paths, view.set_overlays)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.actions, 1)
        row.addWidget(self.grad_cam)
        self._changed = QTimer(self, singleShot=True, interval=0)
        self._changed.timeout.connect(self._rows_changed)
        rows = view.model()
        for signal in (rows.modelReset, rows.rowsInserted, rows.rowsRemoved, rows.layoutChanged):
            signal.connect(self._changed.start)
        view.destroyed.connect(self._changed.stop)
        if hasattr(view, "mark_edited"):
            state.edits_changed.connect(self._mark)

    def _rows_changed(self) -> None:
        self._mark()
        self.grad_cam.refresh()

    def _mark(self, *_args) -> None:
        if hasattr(self.view, "mark_edited"):
            self.view.mark_edited(self.state.edits)

    def shutdown(self) -> None:
        self._changed.stop()
        self.grad_cam.shutdown()
