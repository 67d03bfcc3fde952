"""Evaluate page: confusion matrix you can click, top losses, most confused
pairs, per-class metrics and ROC curves, on the validation or test split.

Evaluation runs off the GUI thread whenever a new model arrives or the split
changes; everything drawn afterwards reads the finished Interpretation.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tlstudio.core.jobs.delivery import EvaluateJob, HeldModelFile
from tlstudio.qt.engine import engine_task
from tlstudio.qt.pages.base import NEEDS_MODEL, Page
from tlstudio.qt.pages.evaluation_view import (
    cell_entries,
    metrics_rows,
    top_loss_entries,
    write_report,
)
from tlstudio.qt.settings import dialog_folder, remember_dialog_folder
from tlstudio.qt.widgets.confusion_matrix_view import ConfusionMatrixView
from tlstudio.qt.widgets.image_results_gallery import ImageResultsGallery
from tlstudio.qt.widgets.image_tools import ImageTools
from tlstudio.qt.widgets.metrics_table import MetricsTable
from tlstudio.qt.widgets.roc_plot import RocPlot
from tlstudio.qt.widgets.run_controls import RunControls
from tlstudio.qt.workers import TaskSlot

SPLIT_NAMES = {"valid": "Validation", "test": "Test"}
METRICS_ROWS_SHOWN = 12  # classes the per-class table shows without scrolling (plus the two averages)
PAIR_ROLE = Qt.ItemDataRole.UserRole


def _group(title: str, *widgets: QWidget, header: QHBoxLayout | None = None) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 6, 6, 6)
    if header is not None:
        layout.addLayout(header)
    for w in widgets:
        layout.addWidget(w, 1)
    return box


class EvaluatePage(Page):
    key = "evaluate"
    title = "Evaluate"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        self.interpretation = None
        self.slot = TaskSlot(self)
        self._build()
        state.training_changed.connect(self._on_training_changed)
        state.dataset_changed.connect(lambda _spec: self._refresh_splits())
        self._refresh_splits()
        if state.training is not None:
            self.evaluate()

    def missing(self):
        return NEEDS_MODEL if self.state.training is None else None

    def shutdown(self) -> None:
        self.slot.cancel()
        self.top_tools.shutdown()
        self.cell_tools.shutdown()

    # -- layout -----------------------------------------------------------------
    def _build(self) -> None:
        self.split_combo = QComboBox()
        self.split_combo.currentIndexChanged.connect(self._on_split_changed)
        self.run_controls = RunControls("Evaluate", esc_scope=self, esc_help="Cancel the evaluation (Evaluate page)",
                                        show_status=False, hide_when_idle=True)  # the summary says how it went
        self.run_controls.start_requested.connect(self._run_evaluation)
        self.run_controls.cancel_requested.connect(self.slot.request_cancel)
        self.run_button = self.run_controls.start_button
        self.run_button.setToolTip("Run the model over the chosen split again")
        self.cancel_button = self.run_controls.cancel_button
        self.progress = self.run_controls.bar
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.summary = QLabel("")
        font = self.summary.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.summary.setFont(font)
        self.save_button = QPushButton("Save report…")
        self.save_button.clicked.connect(self._choose_report_folder)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Split:"))
        bar.addWidget(self.split_combo)
        bar.addWidget(self.run_controls)
        bar.addSpacing(12)
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.save_button)

        self.matrix = ConfusionMatrixView()
        self.matrix.cell_clicked.connect(self.show_cell)
        self.normalize_box = QCheckBox("Normalise rows")
        self.normalize_box.setToolTip("Show each row as the share of that class's images")
        self.normalize_box.toggled.connect(self.matrix.set_normalized)
        matrix_header = QHBoxLayout()
        matrix_header.addWidget(QLabel("Click a cell to see its images."))
        matrix_header.addStretch(1)
        matrix_header.addWidget(self.normalize_box)
        matrix_page = QWidget()
        matrix_layout = QVBoxLayout(matrix_page)
        matrix_layout.setContentsMargins(4, 4, 4, 4)
        matrix_layout.addLayout(matrix_header)
        matrix_layout.addWidget(self.matrix, 1)

        self.roc = RocPlot()
        # The ROC curves share the big left area with the matrix: each gets half the page when shown.
        self.chart_tabs = QTabWidget()
        self.chart_tabs.addTab(matrix_page, "Confusion matrix")
        self.chart_tabs.addTab(self.roc, "ROC curves")
        self.chart_tabs.setTabToolTip(1, "One-vs-rest ROC curve per class; click a class in the metrics table to see its own")

        self.confused_list = QListWidget()
        self.confused_list.itemClicked.connect(self._on_pair_clicked)
        self.confused_list.itemActivated.connect(self._on_pair_clicked)
        confused_box = _group("Most confused (actual → predicted)", self.confused_list)

        self.metrics_table = MetricsTable()
        self.metrics_table.clicked.connect(self._on_metrics_row_clicked)
        self.metrics_box = _group("Per-class metrics", self.metrics_table)

        self.top_n = QSpinBox(minimum=1, maximum=500, value=12)
        self.top_n.setToolTip("How many of the highest-loss images to show")
        self.top_n.valueChanged.connect(self._show_top_losses)
        self.top_losses = ImageResultsGallery()
        self.cell_gallery = ImageResultsGallery()
        self.cell_title = QLabel("Click a confusion-matrix cell or a confused pair.")
        self.cell_title.setWordWrap(True)
        top_page = QWidget()
        top_layout = QVBoxLayout(top_page)
        top_layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        row.addWidget(QLabel("Highest losses:"))
        row.addWidget(self.top_n)
        row.addWidget(QLabel("images"))
        row.addStretch(1)
        top_layout.addLayout(row)
        top_layout.addWidget(self.top_losses, 1)
        self.top_tools = ImageTools(self.state, self.top_losses, self._learner)
        top_layout.addWidget(self.top_tools)
        cell_page = QWidget()
        cell_layout = QVBoxLayout(cell_page)
        cell_layout.setContentsMargins(4, 4, 4, 4)
        cell_layout.addWidget(self.cell_title)
        cell_layout.addWidget(self.cell_gallery, 1)
        self.cell_tools = ImageTools(self.state, self.cell_gallery, self._learner)
        cell_layout.addWidget(self.cell_tools)
        self.image_tabs = QTabWidget()
        self.image_tabs.addTab(top_page, "Top losses")
        self.image_tabs.addTab(cell_page, "Selected cell")

        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.chart_tabs)
        left.addWidget(confused_box)
        left.setStretchFactor(0, 4)
        left.setStretchFactor(1, 1)
        left.setChildrenCollapsible(False)
        self.right = QSplitter(Qt.Orientation.Vertical)
        self.right.addWidget(self.metrics_box)
        self.right.addWidget(self.image_tabs)
        self.right.setStretchFactor(0, 0)
        self.right.setStretchFactor(1, 1)
        self.right.setChildrenCollapsible(False)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(left)
        body.addWidget(self.right)
        body.setStretchFactor(0, 1)
        body.setStretchFactor(1, 1)
        body.setSizes([380, 470])  # the right column's metrics table needs its five columns' width

        self.error_label = QLabel(wordWrap=True)
        self.error_label.setStyleSheet("color: #c0392b;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setVisible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.error_label)
        layout.addWidget(body, 1)
        self._set_running(False)
        self.save_button.setEnabled(False)

    def _learner(self):
        """The trained model as Grad-CAM names it: held in the engine, by id."""
        if self.state.training is None or self.interpretation is None:
            return None
        model = self.state.training.model
        return HeldModelFile(model.id, None, "in memory", list(model.classes), None)

    # -- running ------------------------------------------------------------------
    def current_split(self) -> str:
        return self.split_combo.currentData() or "valid"

    def _refresh_splits(self) -> None:
        spec = getattr(self.state.training, "spec", None) or self.state.dataset
        has_test = bool(spec is not None and spec.has_test)
        self.split_combo.blockSignals(True)
        current = self.current_split()
        self.split_combo.clear()
        self.split_combo.addItem(SPLIT_NAMES["valid"], "valid")
        if has_test:
            self.split_combo.addItem(SPLIT_NAMES["test"], "test")
        self.split_combo.setCurrentIndex(max(self.split_combo.findData(current), 0))
        self.split_combo.setEnabled(has_test)
        self.split_combo.setToolTip("" if has_test else "The dataset has no test split")
        self.split_combo.blockSignals(False)

    def _on_training_changed(self, result) -> None:
        self._refresh_splits()
        if result is None:
            self.slot.cancel()
            self._set_running(False)
            self._clear()
        else:
            self.evaluate()

    def evaluate(self) -> None:
        stored = self.state.stored_evaluation
        if stored is not None and stored.split == self.current_split():  # a reopened run's, as it saved it
            self.slot.cancel()
            self._clear()
            self.show_interpretation(stored)
            return
        self._run_evaluation()

    def _on_split_changed(self, _index: int) -> None:
        if self.state.training is not None:
            self.evaluate()

    def _run_evaluation(self) -> None:
        result = self.state.training
        if result is None:
            return
        split = self.current_split()
        job = EvaluateJob(result.model.id, result.spec, split)
        self._clear()
        self.summary.setText(f"Evaluating on the {SPLIT_NAMES[split].lower()} split…")
        self.run_controls.started()
        self.slot.start(
            engine_task(job),
            name="evaluate",
            on_event=self._on_event,
            on_success=self.show_interpretation,
            on_failure=self._on_failure,
            on_cancel=self._on_cancelled,
        )

    def cancel(self) -> None:
        self.run_controls.cancel()

    def _set_running(self, running: bool) -> None:
        if running:
            self.run_controls.started()
        else:
            self.run_controls.finished()

    def _on_event(self, event) -> None:
        total = getattr(event, "total", None)
        done = getattr(event, "done", None)
        if total is not None and done is not None:
            self.run_controls.progress(done, total)

    def _on_failure(self, message: str) -> None:
        line = self.run_controls.failed("Evaluation", message)
        self.summary.setText("Evaluation failed")
        self.error_label.setText(message)
        self.error_label.setVisible(True)
        self.state.status_message.emit(line)

    def _on_cancelled(self) -> None:
        self.run_controls.cancelled()
        self.summary.setText("Evaluation cancelled")

    # -- showing ----------------------------------------------------------------------
    def _clear(self) -> None:
        self.interpretation = None
        self.matrix.clear()
        self.confused_list.clear()
        self.metrics_table.set_rows([])
        self.roc.set_curves([])
        self.top_losses.set_entries([])
        self.cell_gallery.set_entries([])
        self.cell_title.setText("Click a confusion-matrix cell or a confused pair.")
        self.summary.setText("")
        self.error_label.setVisible(False)
        self.save_button.setEnabled(False)

    def show_interpretation(self, interp) -> None:
        self._set_running(False)
        self.interpretation = interp
        self.matrix.set_matrix(list(interp.classes), interp.confusion)
        self.metrics_table.set_rows(metrics_rows(interp))
        self._fit_metrics_table()
        self.roc.set_curves(interp.roc, interp.macro_auc)
        self.top_n.setMaximum(max(len(interp.paths), 1))
        self._show_top_losses()
        self.confused_list.clear()
        for actual, predicted, count in interp.most_confused(min_count=1):
            item = QListWidgetItem(f"{actual}  →  {predicted}:  {count} image{'s' if count != 1 else ''}")
            item.setData(PAIR_ROLE, (actual, predicted))
            self.confused_list.addItem(item)
        if self.confused_list.count() == 0:
            self.confused_list.addItem("No mistakes on this split.")
        n = len(interp.paths)
        self.summary.setText(
            f"Accuracy {interp.accuracy:.1%} on {n} {SPLIT_NAMES[self.current_split()].lower()} images"
        )
        self.save_button.setEnabled(True)

    def _show_top_losses(self, *_args) -> None:
        if self.interpretation is not None:
            self.top_losses.set_entries(top_loss_entries(self.interpretation, self.top_n.value()))

    def show_cell(self, i: int, j: int) -> None:
        interp = self.interpretation
        if interp is None:
            return
        self.matrix.selected = (i, j)
        self.matrix.update()
        entries = cell_entries(interp, i, j)
        actual, predicted = interp.classes[i], interp.classes[j]
        what = "correct" if i == j else "mistaken"
        self.cell_title.setText(
            f"Actual <b>{actual}</b>, predicted <b>{predicted}</b>: {len(entries)} {what} image"
            f"{'s' if len(entries) != 1 else ''}. Double-click one to see it larger."
        )
        self.cell_gallery.set_entries(entries)
        self.image_tabs.setCurrentIndex(1)

    def _on_pair_clicked(self, item: QListWidgetItem) -> None:
        pair = item.data(PAIR_ROLE)
        if pair and self.interpretation is not None:
            classes = list(self.interpretation.classes)
            self.show_cell(classes.index(pair[0]), classes.index(pair[1]))

    def _on_metrics_row_clicked(self, index) -> None:
        row = self.metrics_table.displayed_rows()[index.row()]
        self.roc.show_class(None if row.pinned else row.name)
        self.chart_tabs.setCurrentWidget(self.roc)

    def _fit_metrics_table(self) -> None:
        """Tall enough for every row (up to METRICS_ROWS_SHOWN classes), so the table does not scroll."""
        table = self.metrics_table
        rows = min(table.model().rowCount(), METRICS_ROWS_SHOWN + 2)
        height = table.horizontalHeader().sizeHint().height() + rows * table.verticalHeader().defaultSectionSize()
        table.setMinimumHeight(height + 2 * table.frameWidth() + 2)

    # -- report ------------------------------------------------------------------------
    def _choose_report_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save evaluation report into", dialog_folder("report"))
        if folder:
            remember_dialog_folder("report", folder)
            self.save_report(Path(folder))

    def save_report(self, folder: Path) -> list[Path]:
        """Writes metrics.csv, confusion_matrix.png and roc.png (plus the raw matrix as CSV)."""
        if self.interpretation is None:
            return []
        try:
            written = write_report(folder, self.interpretation, self.matrix, self.roc)
        except OSError as exc:
            QMessageBox.warning(self, "Could not save the report", f"{folder}: {exc}")
            return []
        self.state.status_message.emit(f"Report saved to {folder}")
        return written
