"""Export page: write the trained model to a file, verified by reloading it
and comparing predictions, show its sidecar, then try the file on new images."""
from __future__ import annotations

import json
import math
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tlstudio.qt.learner_lock import using_learner
from tlstudio.qt.pages.base import NEEDS_MODEL, Page
from tlstudio.qt.settings import settings
from tlstudio.qt.widgets.model_try_panel import ModelTryPanel
from tlstudio.qt.workers import TaskSlot

MODEL_SUFFIX = ".pkl"


def default_model_path(result) -> Path:
    spec = getattr(result, "spec", None)
    arch = getattr(getattr(result, "config", None), "arch", "model")
    root = Path(spec.root) if spec is not None else Path.home() / "dataset"
    return root.parent / f"{root.stem}-{arch}{MODEL_SUFFIX}"


def sidecar_items(data: dict) -> list[QTreeWidgetItem]:
    """Tree rows for a sidecar's fields; nested objects become expandable rows."""
    items = []
    for key, value in data.items():
        item = QTreeWidgetItem([str(key), ""])
        if isinstance(value, dict):
            item.addChildren(sidecar_items(value))
            item.setText(1, ", ".join(f"{k}: {_short(v)}" for k, v in value.items() if not isinstance(v, dict)))
        elif isinstance(value, list):
            shown = ", ".join(_short(v) for v in value[:12])
            item.setText(1, shown + (f", … ({len(value)} in all)" if len(value) > 12 else ""))
        else:
            item.setText(1, _short(value))
        item.setToolTip(1, item.text(1))
        items.append(item)
    return items


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value)[:80]
    return "—" if value is None else str(value)


class ExportPage(Page):
    key = "export"
    title = "Export"

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        self.report = None
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
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("Where to write the model (.pkl)")
        choose = QPushButton("Choose…")
        choose.clicked.connect(self._choose_path)
        self.export_button = QPushButton("Export and verify")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.export)
        self.export_progress = QProgressBar()
        self.export_cancel = QPushButton("Cancel")
        self.export_cancel.clicked.connect(self.export_slot.request_cancel)
        self.export_status = QLabel("The model is reloaded from the file and its predictions compared with the app's.")
        self.export_status.setWordWrap(True)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(choose)
        run_row = QHBoxLayout()
        run_row.addWidget(self.export_button)
        run_row.addWidget(self.export_progress, 1)
        run_row.addWidget(self.export_cancel)
        export_box = QGroupBox("Export the trained model")
        export_layout = QVBoxLayout(export_box)
        export_layout.addLayout(path_row)
        export_layout.addLayout(run_row)
        export_layout.addWidget(self.export_status)

        self.verified_label = QLabel("—")
        self.checked_label = QLabel("—")
        self.diff_label = QLabel("—")
        self.mismatch_label = QLabel("—")
        self.mismatch_label.setWordWrap(True)
        verify_box = QGroupBox("Verification")
        form = QFormLayout(verify_box)
        form.addRow("Verified:", self.verified_label)
        form.addRow("Images checked:", self.checked_label)
        form.addRow("Max probability difference:", self.diff_label)
        form.addRow("Mismatches:", self.mismatch_label)

        self.sidecar_tree = QTreeWidget()
        self.sidecar_tree.setHeaderLabels(["Field", "Value"])
        self.sidecar_tree.setColumnWidth(0, 150)
        self.sidecar_label = QLabel("")
        self.sidecar_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sidecar_label.setWordWrap(True)
        sidecar_box = QGroupBox("Model description (sidecar file)")
        sidecar_layout = QVBoxLayout(sidecar_box)
        sidecar_layout.addWidget(self.sidecar_label)
        sidecar_layout.addWidget(self.sidecar_tree, 1)

        left = QVBoxLayout()
        left.addWidget(export_box)
        left.addWidget(verify_box)
        left.addWidget(sidecar_box, 1)

        self.try_panel = ModelTryPanel()

        layout = QHBoxLayout(self)
        left_widget = QWidget()
        left_widget.setLayout(left)
        left.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(left_widget, 5)
        layout.addWidget(self.try_panel, 6)
        self._set_exporting(False)

    def _set_exporting(self, running: bool) -> None:
        self.export_progress.setVisible(running)
        self.export_cancel.setVisible(running)
        self.export_button.setEnabled(not running and self.state.training is not None)

    # -- export -------------------------------------------------------------------
    def _on_training_changed(self, result) -> None:
        self.export_slot.cancel()
        self.report = None
        self._show_report(None)
        self._set_exporting(False)
        if result is not None and not self.path_edit.text():
            path = default_model_path(result)
            last = settings().value("export/folder", "")
            self.path_edit.setText(str(Path(last) / path.name if last else path))

    def _choose_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export model", self.path_edit.text(), "fastai model (*.pkl)")
        if path:
            self.path_edit.setText(path)
            settings().setValue("export/folder", str(Path(path).parent))

    def target_path(self) -> Path:
        path = Path(self.path_edit.text().strip()).expanduser()
        return path if path.suffix == MODEL_SUFFIX else path.with_name(path.name + MODEL_SUFFIX)

    def export(self) -> None:
        result = self.state.training
        if result is None or not self.path_edit.text().strip():
            self.export_status.setText("Choose where to write the model first.")
            return
        path = self.target_path()
        learn, spec, config = result.learn, result.spec, result.config
        metrics = _last_metrics(result)

        def work(reporter):
            from tlstudio.core.export import export_model

            with using_learner(learn, reporter):
                return export_model(learn, path, spec=spec, config=config, metrics=metrics, verify=True, reporter=reporter)

        self.export_status.setText(f"Exporting to {path}…")
        self.export_progress.setRange(0, 0)
        self._set_exporting(True)
        self._show_report(None)
        self.export_slot.start(
            work,
            name="export",
            on_event=self._on_export_event,
            on_success=self._on_exported,
            on_failure=self._on_export_failed,
            on_cancel=self._on_export_cancelled,
        )

    def _on_export_event(self, event) -> None:
        total, done = getattr(event, "total", None), getattr(event, "done", None)
        if total is not None and done is not None:
            self.export_progress.setRange(0, max(int(total), 0))
            self.export_progress.setValue(int(done))
        message = getattr(event, "message", "") or getattr(event, "text", "")
        if message:
            self.export_status.setText(message)

    def _on_exported(self, report) -> None:
        self._set_exporting(False)
        self.report = report
        self.state.status_message.emit(f"Model {report.message}: {report.path}")
        self._show_report(report)
        self.try_panel.use_model_file(Path(report.path))

    def _on_export_failed(self, message: str) -> None:
        self._set_exporting(False)
        self.export_status.setText(f"Export failed: {message}")

    def _on_export_cancelled(self) -> None:
        self._set_exporting(False)
        self.export_status.setText("Export cancelled.")

    def _show_report(self, report) -> None:
        self.sidecar_tree.clear()
        if report is None:
            for label in (self.verified_label, self.checked_label, self.diff_label, self.mismatch_label):
                label.setText("—")
                label.setStyleSheet("")
            self.sidecar_label.setText("")
            return
        ok = bool(report.verified)
        self.verified_label.setText("✔ verified" if ok else "✘ NOT verified")
        self.verified_label.setStyleSheet(f"font-weight: bold; color: {'#1a7f37' if ok else '#c0392b'};")
        self.checked_label.setText(str(report.n_checked))
        diff = report.max_prob_diff
        self.diff_label.setText(
            "—" if diff is None or math.isnan(diff) else "0 (identical)" if diff == 0 else f"{diff:.1e}"
        )
        self.mismatch_label.setText(str(report.mismatches) if report.mismatches else "none")
        self.export_status.setText(report.message[:1].upper() + report.message[1:])
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
