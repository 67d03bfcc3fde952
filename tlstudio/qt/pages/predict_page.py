"""Predict page: any model file, or the trained model in memory, on dropped
images and folders; top-k with probability bars, sort and threshold filter,
accuracy and a confusion matrix when a folder is labelled, results as CSV.

The page takes every drop itself, so nothing dropped here is opened as a
dataset. Loading and predicting run in a worker with progress and cancel; a
pickle this app did not export on this machine asks for trust first, as the
Try-it panel does.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from tlstudio.core.dataset.image_check import IMAGE_EXTENSIONS
from tlstudio.core.delivery.predict_batch import MODEL_SUFFIXES, is_model_file, write_csv
from tlstudio.core.jobs.delivery import HeldModelFile, LoadModelJob, PredictJob
from tlstudio.qt.engine import engine_task
from tlstudio.qt.pages.base import Page
from tlstudio.qt.settings import settings
from tlstudio.qt.widgets.image_tools import ImageTools
from tlstudio.qt.widgets.prediction_results import PredictionResults
from tlstudio.qt.widgets.prediction_view_controls import PredictionViewControls
from tlstudio.qt.widgets.trust_dialog import ask_trust
from tlstudio.qt.widgets.run_controls import RunControls
from tlstudio.qt.workers import TaskSlot

NO_MODEL = "No model yet: open a model file, drop one on this page, or train one."
MODEL_FILTER = f"Model files ({' '.join('*' + s for s in MODEL_SUFFIXES)});;All files (*)"
DROP_TEXT = "Drop images, folders of images or a model file anywhere on this page"
DROP_STYLE = "#PredictDropHint { border: 2px dashed %s; border-radius: 8px; padding: 10px; color: #4a5561; background: %s; }"
MAX_CLASSES_NAMED = 12


def local_paths(mime) -> list[Path]:
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


class PredictPage(Page):
    key = "predict"
    title = "Predict"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        self.model = None  # core.export.LoadedModel
        self.model_in_memory = False
        self.sources: list[Path] = []  # the images and folders last given, predicted again with a new model
        self.result = None  # core.predict_batch.BatchResult
        self.loading: Path | None = None  # the model file being loaded
        self.slot = TaskSlot(self)
        self.setAcceptDrops(True)
        self._build()
        state.training_changed.connect(self._on_training_changed)
        self._on_training_changed(state.training)

    def shutdown(self) -> None:
        self.slot.cancel()
        self.tools.shutdown()
        self.results.shutdown()

    # -- layout -------------------------------------------------------------------
    def _build(self) -> None:
        self.model_label = QLabel(NO_MODEL, wordWrap=True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton("Open model file…")
        self.open_button.setToolTip("A TL Studio model (.tlsmodel), a fastai .pkl, ONNX (.onnx) or TorchScript (.pt)")
        self.open_button.clicked.connect(self._choose_model)
        self.memory_button = QPushButton("Use the trained model")
        self.memory_button.setToolTip("Predict with the model trained in this window, without saving it first")
        self.memory_button.clicked.connect(self.use_trained_model)

        self.drop_hint = QLabel(DROP_TEXT, objectName="PredictDropHint", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self._set_drop_active(False)
        self.images_button = QPushButton("Choose images…")
        self.images_button.clicked.connect(self._choose_images)
        self.folder_button = QPushButton("Choose folder…")
        self.folder_button.setToolTip("A folder whose subfolders are named after the classes also gives the accuracy")
        self.folder_button.clicked.connect(self._choose_folder)

        # No Start: dropping or choosing images starts a run.
        self.run_controls = RunControls("", esc_scope=self, esc_help="Cancel loading or predicting (Predict page)",
                                        show_start=False, hide_when_idle=True)
        self.run_controls.cancel_requested.connect(self.cancel)
        self.progress = self.run_controls.bar
        self.cancel_button = self.run_controls.cancel_button
        self.status = self.run_controls.status

        self.controls = PredictionViewControls()
        self.save_button = QPushButton("Save CSV…")
        self.save_button.setToolTip("Every image's prediction, top-k, true class when known, or error")
        self.save_button.clicked.connect(self._choose_csv)
        self.results = PredictionResults()
        self.table = self.results.table
        self.controls.top_k_changed.connect(self.table.set_top_k)
        self.controls.sort_changed.connect(self.table.sort_by_confidence)
        self.controls.filter_changed.connect(self.table.set_filter)

        model_row = QHBoxLayout()
        model_row.addWidget(self.model_label, 1)
        model_row.addWidget(self.open_button)
        model_row.addWidget(self.memory_button)
        drop_row = QHBoxLayout()
        drop_row.addWidget(self.drop_hint, 1)
        choose = QVBoxLayout()
        choose.addWidget(self.images_button)
        choose.addWidget(self.folder_button)
        drop_row.addLayout(choose)
        view_row = QHBoxLayout()
        view_row.addWidget(self.controls, 1)
        view_row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(model_row)
        layout.addLayout(drop_row)
        layout.addWidget(self.run_controls)
        layout.addLayout(view_row)
        layout.addWidget(self.results, 1)
        self.tools = ImageTools(self.state, self.table, lambda: self.model)
        layout.addWidget(self.tools)
        self.save_button.setEnabled(False)
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        if running:
            self.run_controls.started(self.status.text())
        else:
            self.run_controls.finished()  # the status line says how it ended

    def _set_drop_active(self, active: bool) -> None:
        colors = ("#2b7bd6", "rgba(43,123,214,0.10)") if active else ("#9aa4ae", "transparent")
        self.drop_hint.setStyleSheet(DROP_STYLE % colors)

    # -- which model --------------------------------------------------------------
    def _on_training_changed(self, result) -> None:
        self.memory_button.setEnabled(result is not None)
        if self.model_in_memory:  # that learner is gone or replaced: nothing may predict with it now
            self.slot.cancel()
            self.model, self.model_in_memory = None, False
            self._set_running(False)
            self._show_model()
        if result is not None and self.model is None and not self.slot.is_running():
            self.use_trained_model()

    def use_trained_model(self) -> None:
        training = self.state.training
        if training is None:
            return
        self.slot.cancel()
        self.loading = None
        model = training.model  # held in the engine process; shown here by its classes
        self._set_model(HeldModelFile(model.id, None, "in memory", list(model.classes), None), in_memory=True)

    def _set_model(self, model, in_memory: bool) -> None:
        self.model, self.model_in_memory = model, in_memory
        self._show_model()
        if self.sources:
            self.predict(self.sources)
        else:
            self._set_running(False)

    def _show_model(self) -> None:
        model = self.model
        if model is None:
            self.model_label.setText(NO_MODEL)
            self.model_label.setToolTip("")
            return
        classes = model.classes
        named = ", ".join(classes[:MAX_CLASSES_NAMED]) + (f", … ({len(classes)} in all)" if len(classes) > MAX_CLASSES_NAMED else "")
        where = "the trained model (in memory, not saved)" if self.model_in_memory else Path(model.path).name
        self.model_label.setText(f"Model: <b>{where}</b> · {len(classes)} classes: {named}")
        self.model_label.setToolTip("" if self.model_in_memory else str(model.path))

    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a model file", self._last_folder(), MODEL_FILTER)
        if path:
            self._remember_folder(Path(path).parent)
            self.open_model_file(Path(path))

    def open_model_file(self, path: Path, trust: bool = False) -> None:
        """Load `path` in a worker; a pickle this app did not export here asks for trust first."""
        path = Path(path)

        # An untrusted pickle comes back as the error itself: the GUI thread asks, then loads again.
        work = engine_task(LoadModelJob(path, trust))
        self.loading = path
        self.run_controls.started(f"Loading {path.name}…")
        self.slot.start(work, name="load model", on_success=lambda result: self._on_loaded(path, result), on_failure=self._on_failed)

    def _on_loaded(self, path: Path, result) -> None:
        self.loading = None
        self._set_running(False)
        if isinstance(result, Exception):
            if self.confirm_trust(str(result)):
                self.open_model_file(path, trust=True)
            else:
                self.status.setText(f"Not loaded: {path.name} is not trusted.")
            return
        self.status.setText(f"Loaded {path.name}: {len(result.classes)} classes.")
        self._set_model(result, in_memory=False)

    def confirm_trust(self, message: str) -> bool:
        return ask_trust(self, message)

    # -- what to predict ------------------------------------------------------------
    def take_paths(self, paths) -> None:
        """What a drop (on the page or anywhere on the window while it shows) hands over:
        the first model file is opened, everything else is predicted or named as skipped."""
        paths = [Path(p) for p in paths]
        model_file = next((p for p in paths if p.is_file() and is_model_file(p)), None)
        rest = [p for p in paths if p != model_file]
        if rest:
            self.sources = rest
        if model_file is not None:
            self.open_model_file(model_file)
        elif rest:
            self.predict(rest)

    def _choose_images(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(IMAGE_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self, "Images to predict", self._last_folder(), f"Images ({patterns});;All files (*)")
        if files:
            self._remember_folder(Path(files[0]).parent)
            self.take_paths(files)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images to predict", self._last_folder())
        if folder:
            self._remember_folder(Path(folder).parent)
            self.take_paths([folder])

    def predict(self, paths) -> None:
        self.sources = [Path(p) for p in paths]
        model = self.model
        if self.loading is not None:
            self.status.setText(f"Loading {self.loading.name}: what was dropped is predicted once it is loaded…")
            return
        if model is None:
            self.status.setText("Open a model file first: what was dropped is predicted once one is loaded.")
            return
        sources = list(self.sources)

        work = engine_task(PredictJob(model.model_id, sources))

        self.run_controls.started("Finding images…")
        self.slot.start(
            work,
            name="predict",
            on_event=self._on_progress,
            on_success=self._on_predicted,
            on_failure=self._on_failed,
            on_cancel=self._on_cancelled,
        )

    def cancel(self) -> None:
        """Stops loading (the model stays as it was) or predicting (what was predicted is kept)."""
        if not self.slot.is_running():
            return
        if self.loading is None:
            self.slot.request_cancel()
            return
        self.slot.cancel()
        self.status.setText(f"Not loaded: loading {self.loading.name} was cancelled.")
        self.loading = None
        self._set_running(False)

    def _on_progress(self, event) -> None:
        if getattr(event, "total", 0):  # "finding images" has no total yet: the status already says so
            self.run_controls.progress(event.done, event.total, f"Predicting {event.message}…")

    def _on_predicted(self, result) -> None:
        self._set_running(False)
        self.result = result
        self.results.show_result(result)
        self.save_button.setEnabled(bool(result.predictions))
        images = len(result.inputs.images)
        if result.cancelled:
            self.status.setText(f"Cancelled: {len(result.predictions)} of {images} images predicted.")
        elif not images:
            self.status.setText("No images among what was dropped." if result.inputs.skipped else "The folder holds no images.")
        else:
            self.status.setText("")

    def _on_failed(self, message: str) -> None:
        what = f"Loading {self.loading.name}" if self.loading is not None else "Predicting"
        self.loading = None
        self.run_controls.failed(what, message)

    def _on_cancelled(self) -> None:
        self._set_running(False)
        self.status.setText("Cancelled.")

    # -- results --------------------------------------------------------------------
    def _choose_csv(self) -> None:
        start = str(Path(self._last_folder()) / "predictions.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Save predictions", start, "CSV (*.csv)")
        if path:
            self._remember_folder(Path(path).parent)
            self.save_csv(Path(path))

    def save_csv(self, path: Path) -> None:
        if self.result is None:
            return
        try:
            write_csv(path, self.result.predictions, self.result.inputs.truth, self.controls.top_k.value())
        except OSError as exc:
            self.status.setText(f"{path}: could not be written ({exc.strerror or exc})")
            return
        self.status.setText(f"Saved {len(self.result.predictions)} predictions to {path}")

    def _last_folder(self) -> str:
        return str(settings().value("predict/folder", "") or Path.home())

    def _remember_folder(self, folder: Path) -> None:
        settings().setValue("predict/folder", str(folder))

    # -- drops ----------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
            self._set_drop_active(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._set_drop_active(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        self._set_drop_active(False)
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.take_paths(paths)
