"""The dataset doctor on the Data page: run it, watch its progress, read its findings by kind.

The job runs on a worker thread (`TaskSlot`); the quick pixel pass's findings
are drawn as soon as they arrive, the feature pass's replace them when it
ends. Duplicate sets show their images side by side; clicking one keeps it
and excludes the others. Every fix is recorded in an edit list
(`core.dataset_edits.DatasetEdits`, the app state's when the Data page gives
it), never done to the files. The imbalance group offers the training fixes
(a class-weighted loss, oversampling); the choice is emitted for the training
config. Selected findings give their images to the selection actions.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tlstudio.core.dataset.edits import DatasetEdits
from tlstudio.core.doctor.findings import KINDS, TITLES, DoctorFindings
from tlstudio.core.doctor.job import DoctorConfig
from tlstudio.core.jobs.data import DoctorJob
from tlstudio.qt.engine import engine_task
from tlstudio.core.events import Progress
from tlstudio.qt.widgets.run_controls import RunControls
from tlstudio.qt.workers import TaskSlot

SHOWN_PER_KIND = 25  # findings listed per kind; the rest are counted
FINDING_ROLE = Qt.ItemDataRole.UserRole + 1  # the Finding of a row
IMBALANCE_FIXES = (("loss_weights", "Weight the loss"), ("oversample", "Oversample"))
THUMBS_PER_FINDING = 4
THUMB_PX = 48
STATUS_MIN_WIDTH = 340  # a status line of two lines at most, and the page still fits 1024 px


class DoctorPanel(QWidget):
    edits_changed = Signal(object)  # the DatasetEdits, after each fix
    imbalance_chosen = Signal(str)  # TrainConfig.imbalance: "loss_weights" | "oversample" | "none"

    def __init__(self, parent: QWidget | None = None, config: DoctorConfig | None = None):
        super().__init__(parent)
        self.config = config or DoctorConfig()
        self.spec = None
        self.report = None
        self.findings: tuple = ()
        self.edits = DatasetEdits()
        self.imbalance = "none"  # the training config's choice, shown on the imbalance group
        self.actions: QWidget | None = None
        self.slot = TaskSlot(self)

        self.title = QLabel("<b>Dataset doctor</b>: duplicates, leaks, label errors, imbalance and outliers")
        # Esc cancels the check while the focus is in the panel (the page has no other Esc).
        self.run_controls = RunControls("Check dataset", esc_help="Cancel the dataset check (Data page)",
                                        hide_when_idle=True, hide_start_while_running=True)
        self.run_controls.start_requested.connect(self.start)
        self.run_controls.cancel_requested.connect(self.slot.request_cancel)
        self.run_button = self.run_controls.start_button
        self.cancel_button = self.run_controls.cancel_button
        self.progress = self.run_controls.bar
        self.progress.setMaximumWidth(280)
        self.status = self.run_controls.status
        # Its height, no more: the findings below take what the panel has to spare.
        self.run_controls.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.run_controls.setMinimumWidth(STATUS_MIN_WIDTH)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.title, 0, Qt.AlignmentFlag.AlignTop)
        header.addStretch(1)
        header.addWidget(self.run_controls)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Finding", "Score", "Images", "Fix"])
        self.tree.setColumnWidth(0, 400)
        self.tree.setColumnWidth(1, 60)
        self.tree.setColumnWidth(2, 210)
        self.tree.setMaximumHeight(300)  # the gallery above keeps most of the page
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.tree.hide()
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 6, 0, 0)
        self._layout.addLayout(header)
        self._layout.addWidget(self.tree, 1)
        self.set_spec(None)

    def set_actions(self, actions: QWidget) -> None:
        """Put the selection actions (widgets/image_actions.py) under the findings, shown with them."""
        self.actions = actions
        actions.setVisible(not self.tree.isHidden())
        self._layout.addWidget(actions)

    def selected_paths(self) -> list:
        """The images of the selected findings, each once."""
        paths = {}
        for item in self.tree.selectedItems():
            finding = item.data(0, FINDING_ROLE)
            for p in finding.files if finding is not None else ():
                paths[p] = None
        return list(paths)

    def set_imbalance(self, fix: str) -> None:
        self.imbalance = fix
        for button in self.findChildren(QPushButton, "imbalance-fix"):
            button.setChecked(button.property("fix") == fix)

    def set_spec(self, spec, edits: DatasetEdits | None = None) -> None:
        self.slot.cancel()
        self.spec, self.report, self.findings = spec, None, ()
        self.edits = edits if edits is not None else DatasetEdits()
        self.tree.clear()
        self.tree.hide()
        if self.actions is not None:
            self.actions.hide()
        self.run_controls.cancelled("")  # idle, nothing said
        self.run_button.setEnabled(spec is not None)

    def start(self) -> None:
        spec, config = self.spec, self.config
        if spec is None:
            return
        self.report = None
        self.run_controls.started("Reading pixels…")
        self.slot.start(engine_task(DoctorJob(spec, config)), name="doctor",
                        on_event=self._on_event, on_success=self._on_done, on_failure=self._on_failed,
                        on_cancel=lambda: self.run_controls.cancelled("Cancelled before the pixel pass ended."))

    def is_running(self) -> bool:
        return self.slot.is_running()

    def shutdown(self) -> None:
        self.slot.stop_and_wait()

    def _on_event(self, event) -> None:
        if isinstance(event, Progress):
            self.run_controls.progress(event.done, event.total, event.task)  # each pass starts its ETA afresh
        elif isinstance(event, DoctorFindings):
            self.show_findings(event.findings)
            if not event.final:
                self.run_controls.note("Pixel pass done; now the features…")

    def _on_done(self, report) -> None:
        self.report = report
        n = len(report.findings)
        how = "Cancelled; kept the findings of the pixel pass" if report.status == "cancelled" else "Done"
        note = f" ({report.notes[-1]})" if report.notes else ""
        self.run_controls.finished(f"{how}: {n:,} finding{'s' if n != 1 else ''}{note}")
        self.run_button.setText("Check again")

    def _on_failed(self, message: str) -> None:
        self.run_controls.failed("The check", message)

    def show_findings(self, findings) -> None:
        self.findings = tuple(findings)
        self.tree.clear()
        for kind in KINDS:
            of_kind = [f for f in self.findings if f.kind == kind]
            group = QTreeWidgetItem(self.tree, [f"{TITLES[kind]} ({len(of_kind):,})"])
            group.setData(0, Qt.ItemDataRole.UserRole, kind)
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            for finding in of_kind[:SHOWN_PER_KIND]:
                self._add_finding(group, finding)
            if len(of_kind) > SHOWN_PER_KIND:
                QTreeWidgetItem(group, [f"… and {len(of_kind) - SHOWN_PER_KIND:,} more"])
            group.setExpanded(bool(of_kind) and kind != "imbalance")
            if kind == "imbalance" and of_kind:
                self._add_imbalance_fixes(group)
        self.tree.show()
        if self.actions is not None:
            self.actions.show()

    def _add_imbalance_fixes(self, group: QTreeWidgetItem) -> None:
        """The two training fixes, one checkable button each: the next run uses the one checked."""
        buttons = QWidget()
        line = QHBoxLayout(buttons)
        line.setContentsMargins(0, 0, 0, 0)
        for fix, text in IMBALANCE_FIXES:
            button = QPushButton(text, objectName="imbalance-fix", checkable=True)
            button.setProperty("fix", fix)
            button.setChecked(self.imbalance == fix)
            button.setToolTip("The next training run weighs each class's loss by the inverse of its size"
                              if fix == "loss_weights" else
                              "The next training run draws the small classes' images more often")
            button.clicked.connect(lambda checked, f=fix: self._choose_imbalance(f if checked else "none"))
            line.addWidget(button)
        line.addStretch(1)
        self.tree.setItemWidget(group, 3, buttons)

    def _choose_imbalance(self, fix: str) -> None:
        self.set_imbalance(fix)
        self.imbalance_chosen.emit(fix)

    def _add_finding(self, group: QTreeWidgetItem, finding) -> None:
        text = finding.detail
        if finding.kind in ("outlier", "label_issue"):
            text += f": {finding.files[0].name}"
        if any(self.edits.edited(p) for p in finding.files):
            text += " — edited"
        item = QTreeWidgetItem(group, [text, f"{finding.score:.3f}"])
        item.setData(0, FINDING_ROLE, finding)
        item.setToolTip(0, "\n".join(str(p) for p in finding.files[:20]))
        if finding.kind == "imbalance":
            return
        strip = QWidget()
        row = QHBoxLayout(strip)
        row.setContentsMargins(0, 2, 0, 2)
        row.setSpacing(4)
        duplicate = finding.kind in ("exact_duplicate", "near_duplicate")
        for path in finding.files[:THUMBS_PER_FINDING]:
            thumb = QToolButton()
            thumb.setIcon(QIcon(QPixmap(str(path)).scaled(THUMB_PX, THUMB_PX, Qt.AspectRatioMode.KeepAspectRatio)))
            thumb.setIconSize(QSize(THUMB_PX, THUMB_PX))
            thumb.setAutoRaise(True)
            thumb.setToolTip(f"{path}\nClick to keep this one and exclude the others" if duplicate else str(path))
            if duplicate:
                thumb.clicked.connect(lambda _=False, p=path: self._fix(item, finding, "keep", p))
            row.addWidget(thumb)
        row.addStretch(1)
        self.tree.setItemWidget(item, 2, strip)
        fixes = []
        if finding.kind == "label_issue":
            fixes.append((f"Relabel as '{finding.suggested_label}'", "relabel"))
        if finding.kind == "leak":
            fixes.append(("Move to train", "move"))
        if finding.kind in ("label_issue", "outlier", "conflicting_label"):
            fixes.append(("Exclude", "exclude"))
        if fixes:
            buttons = QWidget()
            line = QHBoxLayout(buttons)
            line.setContentsMargins(0, 0, 0, 0)
            for text, action in fixes:
                button = QPushButton(text)
                button.clicked.connect(lambda _=False, a=action: self._fix(item, finding, a))
                line.addWidget(button)
            line.addStretch(1)
            self.tree.setItemWidget(item, 3, buttons)

    def _fix(self, item: QTreeWidgetItem, finding, action: str, keep=None) -> None:
        """Record one fix in the edit list; the files are never touched."""
        if action == "keep":
            self.edits.keep_one(finding.files, keep)
            done = f"kept {keep.name}, excluded {len(finding.files) - 1}"
        elif action == "relabel":
            self.edits.relabel(finding.files[0], finding.suggested_label)
            done = f"relabelled '{finding.suggested_label}'"
        elif action == "move":
            splits = dict(zip(self.spec.items, self.spec.splits)) if self.spec else {}
            moved = [p for p in finding.files if splits.get(p) != "train"]
            for p in moved:
                self.edits.move(p, "train")
            done = f"moved {len(moved)} to train"
        else:
            for p in finding.files:
                self.edits.exclude(p)
            done = f"excluded {len(finding.files)}"
        item.setText(0, f"{item.text(0)} — {done}")
        for column in (2, 3):
            widget = self.tree.itemWidget(item, column)
            if widget is not None:
                widget.setEnabled(False)
        self.edits_changed.emit(self.edits)
