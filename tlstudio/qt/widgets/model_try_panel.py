"""Try a model file on new images: drop them (or pick them) and see the top
predictions, each with its thumbnail, or the reason an image could not be read.

The model (any format: .tlsmodel, .pkl, .onnx, .pt) is loaded from its file
in a worker, once, then reused. A pickle this app did not export on this
machine is of unknown origin (a sidecar proves nothing: anyone can write
one), and unpickling can run code: it is loaded only after the user says
they trust it. The other formats hold no pickle and open without asking.
"""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from tlstudio.core.jobs.delivery import LoadModelJob, PredictImagesJob
from tlstudio.qt import engine
from tlstudio.qt.engine import engine_task
from tlstudio.qt.widgets.image_drop_zone import IMAGE_SUFFIXES, ImageDropZone
from tlstudio.qt.widgets.prediction_list import PredictionList
from tlstudio.qt.widgets.trust_dialog import ask_trust
from tlstudio.qt.workers import TaskSlot

NO_MODEL = "No model yet: export one, or open a model file."


def breakable(name: str) -> str:
    """`name` as rich text that may wrap after - and _ (a zero-width space there): a long model
    file name in one unbreakable word widened the whole Export page."""
    escaped = html.escape(name)
    for mark in "-_":
        escaped = escaped.replace(mark, mark + "\u200b")
    return escaped


class ModelTryPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("Try it", parent)
        self.model = None  # core.export.LoadedModel once loaded
        self.model_path: Path | None = None
        self._trusted = False
        self.slot = TaskSlot(self)

        self.model_label = QLabel(NO_MODEL)
        self.model_label.setWordWrap(True)
        self.open_button = QPushButton("Open model file…")
        self.open_button.setToolTip("Use a model file (.tlsmodel, .pkl, .onnx, .pt) for the predictions below")
        self.open_button.clicked.connect(self._choose_model)
        # Always enabled: a disabled zone would let image drops through to the
        # window, which opens whatever is dropped as a dataset.
        self.drop_zone = ImageDropZone("Drop images or a folder here to predict them")
        self.drop_zone.files_dropped.connect(self.predict)
        self.pick_button = QPushButton("Choose images…")
        self.pick_button.clicked.connect(self._choose_images)
        clear = QPushButton("Clear")
        self.predictions = PredictionList(thumb_size=44)  # the panel is narrow beside the export
        clear.clicked.connect(self.predictions.clear)
        # On a line of its own, wrapped: beside the buttons a long message widened the whole page.
        self.status = QLabel("", wordWrap=True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setVisible(False)
        # It takes the room the buttons leave and asks for none: at its natural ~100 px it
        # widened the panel, and so the whole Export page past 1024 px, while predicting.
        self.progress.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.progress.setMinimumWidth(24)

        # The button under the name, not beside it: at 1024 px the panel has no width for both.
        model_row = QVBoxLayout()
        model_row.addWidget(self.model_label)
        model_row.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignRight)
        buttons = QHBoxLayout()
        buttons.addWidget(self.pick_button)
        buttons.addWidget(clear)
        buttons.addWidget(self.progress, 1)
        buttons.addStretch(0)
        layout = QVBoxLayout(self)
        layout.addLayout(model_row)
        layout.addWidget(self.drop_zone)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.predictions, 1)
        self._show_model()

    def shutdown(self) -> None:
        self.slot.cancel()

    # -- which model --------------------------------------------------------------
    def use_model_file(self, path: Path, model=None, trusted: bool = False) -> None:
        """Predict with the model in `path` from now on (loaded on first use unless given)."""
        self.slot.cancel()
        self.model_path, self.model, self._trusted = Path(path), model, trusted
        self._show_model()

    def _show_model(self) -> None:
        has = self.model_path is not None
        self.model_label.setText(f"Model: <b>{breakable(self.model_path.name)}</b>" if has else NO_MODEL)
        self.model_label.setToolTip(str(self.model_path) if has else "")
        self.pick_button.setEnabled(has)

    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a model file", "", "Model files (*.tlsmodel *.pkl *.onnx *.pt);;All files (*)"
        )
        if path:
            self.open_model_file(Path(path))

    def open_model_file(self, path: Path, trust: bool = False) -> None:
        """Load `path` in a worker; a pickle this app did not export here asks for trust first."""

        # An untrusted pickle comes back as the error itself: the GUI thread asks, then loads again.
        self.status.setText(f"Loading {path.name}…")
        self.progress.setVisible(True)
        self.slot.start(
            engine_task(LoadModelJob(Path(path), trust)),
            name="load model",
            on_success=lambda result: self._on_loaded(path, trust, result),
            on_failure=self._on_failed,
        )

    def _on_loaded(self, path: Path, trusted: bool, result) -> None:
        self.progress.setVisible(False)
        if isinstance(result, Exception):
            self.status.setText("")
            if self.confirm_trust(str(result)):
                self.open_model_file(path, trust=True)
            else:
                self.status.setText(f"Not loaded: {path.name} is not trusted.")
            return
        self.use_model_file(path, result, trusted)
        self.status.setText(f"Loaded: {len(result.classes)} classes")

    def confirm_trust(self, message: str) -> bool:
        return ask_trust(self, message)

    # -- predicting ------------------------------------------------------------------
    def _choose_images(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        files, _ = QFileDialog.getOpenFileNames(self, "Images to predict", "", f"Images ({patterns})")
        if files:
            self.predict([Path(f) for f in files])

    def predict(self, paths: list[Path]) -> None:
        if self.model_path is None:
            self.status.setText("Export the model (or open a model file) first, then drop the images again.")
            return
        if not paths:
            return
        model, model_path, trusted = self.model, self.model_path, self._trusted

        def work(reporter):
            loaded = model if model is not None else engine.host().run(LoadModelJob(model_path, trusted), reporter)
            if isinstance(loaded, Exception):
                raise loaded
            return loaded, engine.host().run(PredictImagesJob(loaded.model_id, [Path(p) for p in paths], 3), reporter)

        self.status.setText(f"Predicting {len(paths)} image{'s' if len(paths) != 1 else ''}…")
        self.progress.setVisible(True)
        self.slot.start(work, name="predict", on_success=self._on_predicted, on_failure=self._on_failed)

    def _on_predicted(self, result) -> None:
        self.model, predictions = result
        self.progress.setVisible(False)
        self.predictions.add_predictions(predictions)
        rows = self.predictions.rows()
        errors = sum(1 for _, prediction, _ in rows if prediction == "Error")
        self.status.setText(f"{len(rows) - errors} predicted" + (f", {errors} could not be read" if errors else ""))

    def _on_failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self.status.setText(f"Failed: {message}")
