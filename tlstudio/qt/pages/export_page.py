"""Export page: write the trained model in any format, verified by reloading
it in a fresh process, show the figures per format and the sidecar, then try
the file on new images.

The default path follows the dataset: `<dataset>-<arch>.<suffix>` next to the
dataset when that folder is writable and not the app's own, else in
`~/TL Studio models`. A new dataset or a retrain clears the figures and the
"exported and verified" line; an existing file is replaced only after the
user confirms; a target that cannot be written is named with another path to
use, and the model stays in memory.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tlstudio.core.delivery.model_meta import FORMAT_LABELS, FORMATS
from tlstudio.core.jobs.delivery import ExportJob
from tlstudio.qt.engine import engine_task
from tlstudio.qt.pages.base import NEEDS_MODEL, Page
from tlstudio.qt.settings import settings
from tlstudio.qt.widgets.model_try_panel import ModelTryPanel
from tlstudio.qt.widgets.stale_model_banner import StaleModelBanner
from tlstudio.qt.widgets.wrapping_delegate import WrapAnywhereDelegate
from tlstudio.qt.widgets.run_controls import RunControls, failure_line
from tlstudio.qt.workers import TaskSlot

SUFFIX_OF = {fmt: suffix for suffix, fmt in FORMATS.items()}
APP_ROOT = Path(__file__).resolve().parents[3]  # the app's own files (resources/demo lives here)
FIGURE_COLUMNS = ("Format", "Verified", "Checked by", "Images", "Top-1", "Max prob diff", "Tolerance", "File")


def models_home() -> Path:
    return Path.home() / "TL Studio models"


def default_model_path(result, fmt: str = "tlsmodel") -> Path:
    """`<dataset>-<arch>.<suffix>` beside the dataset if that folder is the user's and writable, else in ~/TL Studio models."""
    spec = getattr(result, "spec", None)
    arch = getattr(getattr(result, "config", None), "arch", "model")
    root = Path(spec.root) if spec is not None else Path("dataset")
    name = f"{root.stem}-{arch}{SUFFIX_OF[fmt]}"
    beside = root.parent
    if spec is not None and beside.is_dir() and os.access(beside, os.W_OK) and not beside.resolve().is_relative_to(APP_ROOT):
        return beside / name
    return models_home() / name


def sidecar_items(data: dict) -> list[QTreeWidgetItem]:
    """Tree rows for a sidecar's fields, every value in full; nested objects become expandable rows."""
    items = []
    for key, value in data.items():
        item = QTreeWidgetItem([str(key), ""])
        if isinstance(value, dict):
            item.addChildren(sidecar_items(value))
            item.setText(1, ", ".join(f"{k}: {_text(v)}" for k, v in value.items() if not isinstance(v, dict)))
        else:
            item.setText(1, _text(value))
        item.setToolTip(1, item.text(1))
        items.append(item)
    return items


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_text(v) if not isinstance(v, list) else "[" + _text(v) + "]" for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return "—" if value is None else str(value)


def figure_row(report) -> list[str]:
    from tlstudio.core.delivery.export import format_diff

    v = report.verification
    if v is None:
        return [report.format, "not checked", "—", "—", "—", "—", "—", report.path.name]
    top1 = "—" if v.error else "identical" if not v.mismatches else f"{v.mismatches} differ"
    return [report.format, "✔ verified" if v.verified else "✘ NOT verified", v.runtime if not v.error else f"{v.runtime}: {v.error}",
            str(v.n_checked), top1, format_diff(v.max_prob_diff), f"{v.tolerance:.0e}", report.path.name]


class ExportPage(Page):
    key = "export"
    title = "Export"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        self.report = None
        self.reports: dict[str, object] = {}  # format -> its latest ExportReport for this model
        self.suggestion: Path | None = None
        self._path_for = None  # the dataset root the path was made for
        self.export_slot = TaskSlot(self)
        self._build()
        state.training_changed.connect(self._on_training_changed)
        self._on_training_changed(state.training)

    def missing(self):
        return NEEDS_MODEL if self.state.training is None else None

    def shutdown(self) -> None:
        self.export_slot.cancel()
        self.try_panel.shutdown()

    # -- layout -------------------------------------------------------------------
    def _build(self) -> None:
        self.format_combo = QComboBox()
        for fmt, label in FORMAT_LABELS.items():
            self.format_combo.addItem(label, fmt)
        self.format_combo.currentIndexChanged.connect(self._on_format_changed)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("Where to write the model")
        choose = QPushButton("Choose…")
        choose.clicked.connect(self._choose_path)
        self.open_folder_button = QPushButton("Open containing folder")
        self.open_folder_button.clicked.connect(self.open_containing_folder)
        self.run_controls = RunControls("Export and verify", esc_scope=self, esc_help="Cancel the export (Export page)",
                                        hide_when_idle=True)
        self.run_controls.start_requested.connect(self.export)
        self.run_controls.cancel_requested.connect(self.export_slot.request_cancel)
        self.export_button = self.run_controls.start_button
        self.export_button.setDefault(True)
        self.export_progress = self.run_controls.bar
        self.export_cancel = self.run_controls.cancel_button
        self.export_status = self.run_controls.status
        self.use_suggestion_button = QPushButton("Use this path")
        self.use_suggestion_button.clicked.connect(self._use_suggestion)
        self.run_controls.add_beside_status(self.use_suggestion_button)
        format_row = QHBoxLayout()
        format_row.addWidget(QLabel("Format:"))
        format_row.addWidget(self.format_combo, 1)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(choose)
        path_row.addWidget(self.open_folder_button)
        export_box = QGroupBox("Export the trained model")
        export_layout = QVBoxLayout(export_box)
        export_layout.addLayout(format_row)
        export_layout.addLayout(path_row)
        export_layout.addWidget(self.run_controls)

        self.figures = QTreeWidget()
        # Two-line headers: at 1024 px the figures fit beside "Try it" only with the header's words stacked.
        self.figures.setHeaderLabels([name.replace(" ", "\n") for name in FIGURE_COLUMNS])
        self.figures.setRootIsDecorated(False)
        self.figures.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.figures.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # Who checked and the file's name share what is left and wrap in it; the folder is the path
        # field's, and each row's full path is in its tooltip.
        long_columns = (FIGURE_COLUMNS.index("Checked by"), FIGURE_COLUMNS.index("File"))
        for column in long_columns:
            self.figures.header().setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.figures.header().setMinimumSectionSize(30)
        self.figures.header().setDefaultSectionSize(60)
        self.figures.header().setStretchLastSection(False)
        self.figures_wrap = WrapAnywhereDelegate(self.figures, *long_columns)
        self.figures.setMaximumHeight(170)
        verify_box = QGroupBox("Verification: each file reloaded in a fresh process, compared on the validation images")
        QVBoxLayout(verify_box).addWidget(self.figures)

        self.sidecar_tree = QTreeWidget()
        self.sidecar_tree.setHeaderLabels(["Field", "Value"])
        # Every value in full, never "…": the field names take their width, the values the rest,
        # wrapped inside it (paths and hashes have no spaces), so the tree never scrolls sideways.
        self.sidecar_tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.sidecar_tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.sidecar_tree.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.sidecar_wrap = WrapAnywhereDelegate(self.sidecar_tree, 1)
        self.sidecar_label = QLabel("")
        self.sidecar_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sidecar_label.setWordWrap(True)
        sidecar_box = QGroupBox("Model description (sidecar file)")
        sidecar_layout = QVBoxLayout(sidecar_box)
        sidecar_layout.addWidget(self.sidecar_label)
        sidecar_layout.addWidget(self.sidecar_tree, 1)

        left = QVBoxLayout()
        self.stale_banner = StaleModelBanner(self.state)
        left.addWidget(self.stale_banner)
        left.addWidget(export_box)
        left.addWidget(verify_box)
        left.addWidget(sidecar_box, 1)
        left.setContentsMargins(0, 0, 0, 0)
        left_widget = QWidget()
        left_widget.setLayout(left)

        self.try_panel = ModelTryPanel()
        layout = QHBoxLayout(self)
        layout.addWidget(left_widget, 6)
        layout.addWidget(self.try_panel, 5)
        self._set_exporting(False)
        self._show_status(None)

    def _set_exporting(self, running: bool) -> None:
        if running:
            self.run_controls.started()
        elif self.run_controls.is_running():
            self.run_controls.finished()
        self.export_button.setEnabled(not running and self.state.training is not None)

    def _show_status(self, text: str | None, suggestion: Path | None = None) -> None:
        self.export_status.setText(text or "The file is reloaded in a fresh process and its predictions compared with the app's.")
        self.suggestion = suggestion
        self.use_suggestion_button.setVisible(suggestion is not None)

    # -- the path -------------------------------------------------------------------
    def current_format(self) -> str:
        return self.format_combo.currentData()

    def _on_training_changed(self, result) -> None:
        self.export_slot.cancel()
        self.report = None
        self.reports.clear()
        self._show_report(None)
        self._show_status(None)
        self._set_exporting(False)
        root = getattr(getattr(result, "spec", None), "root", None)
        if result is not None and root != self._path_for:
            self._path_for = root
            self.path_edit.setText(str(self._default_path(result)))

    def _default_path(self, result) -> Path:
        path = default_model_path(result, self.current_format())
        last = settings().value("export/folder", "")
        return Path(last) / path.name if last else path

    def _on_format_changed(self) -> None:
        text = self.path_edit.text().strip()
        if text:
            self.path_edit.setText(str(self._with_suffix(Path(text))))

    def _with_suffix(self, path: Path) -> Path:
        suffix = SUFFIX_OF[self.current_format()]
        return path.with_suffix(suffix) if path.suffix.lower() in FORMATS else path.with_name(path.name + suffix)

    def _choose_path(self) -> None:
        fmt = self.current_format()
        path, _ = QFileDialog.getSaveFileName(
            self, "Export model", self.path_edit.text(), f"{FORMAT_LABELS[fmt]} (*{SUFFIX_OF[fmt]})",
            options=QFileDialog.Option.DontConfirmOverwrite,  # the page asks, once, at export
        )
        if path:
            self.path_edit.setText(str(self._with_suffix(Path(path))))
            settings().setValue("export/folder", str(Path(path).parent))

    def _use_suggestion(self) -> None:
        if self.suggestion is not None:
            self.path_edit.setText(str(self.suggestion))
            self._show_status(f"The model will be written to {self.suggestion}. Export again to write it there.")

    def target_path(self) -> Path:
        return self._with_suffix(Path(self.path_edit.text().strip()).expanduser())

    def open_containing_folder(self) -> bool:
        folder = self.target_path().parent if self.path_edit.text().strip() else None
        while folder is not None and not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
        return folder is not None and QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def confirm_replace(self, path: Path) -> bool:
        answer = QMessageBox.question(
            self, "Replace the model file?",
            f"{path} already exists.\n\nReplace it (and its sidecar) with this model?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- export -------------------------------------------------------------------
    def export(self) -> None:
        result = self.state.training
        if result is None or not self.path_edit.text().strip():
            self._show_status("Choose where to write the model first.")
            return
        path = self.target_path()
        self.path_edit.setText(str(path))
        overwrite = path.exists()
        if overwrite and not self.confirm_replace(path):
            self._show_status(f"Not exported: {path.name} was kept as it is. Choose another path to keep both.")
            return
        metrics = _last_metrics(result)
        job = ExportJob(result.model.id, path, spec=result.spec, config=result.config, metrics=metrics, overwrite=overwrite)

        self._set_exporting(True)
        self._show_status(f"Exporting to {path}…")
        self.export_slot.start(
            engine_task(job),
            name="export",
            on_event=self._on_export_event,
            on_success=self._on_exported,
            on_failure=self._on_export_failed,
            on_cancel=self._on_export_cancelled,
        )

    def _on_export_event(self, event) -> None:
        total, done = getattr(event, "total", None), getattr(event, "done", None)
        message = getattr(event, "message", "") or getattr(event, "text", "")
        if total is not None and done is not None:
            self.run_controls.progress(done, total, message)
        elif message:
            self.run_controls.note(message)

    def _on_exported(self, report) -> None:
        self._set_exporting(False)
        if isinstance(report, Exception):
            self._show_status(f"Not exported: {report}. The model is still here: choose another path and export again.",
                              getattr(report, "suggestion", None))
            return
        self.report = report
        self.reports[report.format] = report
        self.state.status_message.emit(f"Model {report.message}: {report.path}")
        self._show_report(report)
        self.try_panel.use_model_file(Path(report.path))

    def _on_export_failed(self, message: str) -> None:
        self._set_exporting(False)
        self._show_status(f"{failure_line('Export', message)}. The model is still here: choose another path and export again.")

    def _on_export_cancelled(self) -> None:
        self._set_exporting(False)
        self._show_status("Export cancelled; nothing was written.")

    def _show_report(self, report) -> None:
        self.sidecar_tree.clear()
        self.figures.clear()
        for fmt, done in self.reports.items():
            item = QTreeWidgetItem(figure_row(done))
            ok = done.verified
            item.setForeground(1, Qt.GlobalColor.darkGreen if ok else Qt.GlobalColor.red)
            for col in range(len(FIGURE_COLUMNS)):
                item.setToolTip(col, item.text(col))
            item.setToolTip(FIGURE_COLUMNS.index("File"), str(done.path))
            self.figures.addTopLevelItem(item)
        if report is None:
            self.sidecar_label.setText("")
            return
        self._show_status(report.message[:1].upper() + report.message[1:])
        sidecar = Path(report.sidecar)
        self.sidecar_label.setText(str(sidecar))
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.sidecar_label.setText(f"{sidecar}: could not be read ({exc})")
            return
        self.sidecar_tree.addTopLevelItems(sidecar_items(data))


def _last_metrics(result) -> dict | None:
    """The metrics of the epoch the learner holds, for the sidecar file."""
    metrics = getattr(result, "final_metrics", None)
    return dict(metrics) if metrics else None
