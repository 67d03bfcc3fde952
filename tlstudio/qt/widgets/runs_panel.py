"""The Runs panel: the open project's runs side by side, and two or more of them compared.

The table lists every run with the settings that differ between the runs,
the metrics of each run's model (final) and the best of each over its epochs,
and its training time. Selecting two or more overlays their validation loss
and accuracy per epoch and lists per-class F1 against the first one selected.
Everything comes from the project's JSON files (core `run_summaries` and
`compare`), which read no tensors: nothing here needs the engine process.
"""
from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from tlstudio.core.durations import format_duration
from tlstudio.core.printable import printable
from tlstudio.core.project.compare import RunComparison, compare_runs
from tlstudio.core.project.layout import MODEL_FILE, ProjectError
from tlstudio.core.project.run_summaries import RunSummary, summarize_runs, table_columns
from tlstudio.qt.widgets.runs_plot import RunsPlot, run_colour

METRIC_NAMES = {"accuracy": "accuracy", "f1_macro": "macro F1", "valid_loss": "valid loss"}
BETTER, WORSE = QColor("#1a7f37"), QColor("#b42318")
HINT = "Select two or more runs (Ctrl+click or Shift+click) to overlay their curves and compare per-class F1."


def _setting(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return printable(str(value))


def _metric(value) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _item(text: str, number=None, tip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
    if number is not None:
        item.setData(Qt.ItemDataRole.UserRole, number)
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if tip:
        item.setToolTip(tip)
    return item


def _has_model(run: RunSummary) -> bool:
    return run.folder is not None and (Path(run.folder) / MODEL_FILE).is_file()


def run_name(number: int) -> str:
    return f"run {number:03d}"


class RunsPanel(QWidget):
    selection_changed = Signal(list)  # the selected run numbers, in run order
    evaluate_requested = Signal(int)  # make the run current and show the Evaluate page
    export_requested = Signal(int)  # make the run current and show the Export page
    resume_requested = Signal(int)  # continue the unfinished run
    start_from_requested = Signal(Path)  # the run's folder, as the model a new run starts from

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.root: Path | None = None
        self.summaries: list[RunSummary] = []
        self.columns: list[str] = []  # the table's columns, by what they show
        self.comparison: RunComparison | None = None

        self.heading = QLabel(wordWrap=True)
        self.table = QTableWidget(0, 0)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.itemSelectionChanged.connect(self._selected)
        self.message = QLabel(HINT, wordWrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.loss_plot = RunsPlot("Validation loss")
        self.accuracy_plot = RunsPlot("Accuracy")
        self.f1_title = QLabel("Per-class F1", wordWrap=True)
        self.f1_table = QTableWidget(0, 0)
        self.f1_table.verticalHeader().setVisible(False)
        self.f1_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        f1_box = QWidget()
        f1_layout = QVBoxLayout(f1_box)
        f1_layout.setContentsMargins(0, 0, 0, 0)
        f1_layout.addWidget(self.f1_title)
        f1_layout.addWidget(self.f1_table, 1)
        self.compare_area = QSplitter(Qt.Orientation.Horizontal)
        for widget in (self.loss_plot, self.accuracy_plot, f1_box):
            self.compare_area.addWidget(widget)
        self.compare_area.setChildrenCollapsible(False)
        # The plots take the width; the F1 table keeps what its columns need.
        for index, stretch in enumerate((1, 1, 0)):
            self.compare_area.setStretchFactor(index, stretch)
        f1_box.setMinimumWidth(260)

        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(self.table)
        body.addWidget(self.compare_area)
        body.setStretchFactor(0, 2)
        body.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.heading)
        layout.addWidget(body, 1)
        self.evaluate_button = QPushButton("Evaluate")
        self.export_button = QPushButton("Export")
        self.start_from_button = QPushButton("Start a new run from it")
        self.resume_button = QPushButton("Resume")
        self.evaluate_button.clicked.connect(lambda: self._act(self.evaluate_requested))
        self.export_button.clicked.connect(lambda: self._act(self.export_requested))
        self.resume_button.clicked.connect(lambda: self._act(self.resume_requested))
        self.start_from_button.clicked.connect(self._start_from)
        row = QHBoxLayout()
        row.addWidget(self.message, 1)
        for button in (self.evaluate_button, self.export_button, self.start_from_button, self.resume_button):
            row.addWidget(button)
        layout.addLayout(row)
        self.set_project(None)

    # -- what it shows ----------------------------------------------------------------
    def set_project(self, root) -> None:
        """The project whose runs are listed (None: no project open)."""
        self.root = None if root is None else Path(root)
        self.refresh()

    def refresh(self) -> None:
        """Read the runs again (one ended, one started), keeping the selection where the runs remain."""
        keep = self.selected_runs()
        self.summaries = []
        if self.root is not None:
            try:
                self.summaries = summarize_runs(self.root)
            except (ProjectError, OSError, ValueError) as exc:
                self._fill_table()
                self.heading.setText(f"Runs of {printable(self.root)} could not be read: {printable(str(exc))}")
                return
        self._fill_table()
        if self.root is None:
            self.heading.setText("No project open: File > New project keeps each training run in one, to compare.")
        else:
            n = len(self.summaries)
            # The name reads at a glance; the whole path, long on most disks, is in the tooltip.
            self.heading.setText(f"{n} run{'' if n == 1 else 's'} in project {printable(self.root.stem)}")
        self.heading.setToolTip("" if self.root is None else printable(self.root))
        self.select_runs(keep)

    def _fill_table(self) -> None:
        differ, metrics = table_columns(self.summaries)
        self.columns = ["run", "state", "epochs", *differ, *(f"{m} final" for m in metrics),
                        *(f"{m} best" for m in metrics), "time"]
        headers = ["Run", "State", "Epochs", *(n.replace("_", " ") for n in differ), *(f"{METRIC_NAMES[m]}\nfinal" for m in metrics),
                   *(f"{METRIC_NAMES[m]}\nbest" for m in metrics), "Time"]
        self.table.blockSignals(True)
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(self.summaries))
        for r, s in enumerate(self.summaries):
            tip = printable(s.message) if s.message else ""
            cells = [_item(f"{s.number:03d}", s.number), _item(s.state, tip=tip),
                     _item(f"{s.epochs_done}/{s.epochs_planned}", s.epochs_done),
                     *(_item(_setting(s.settings.get(n))) for n in differ),
                     *(_item(_metric(s.final.get(m)), s.final.get(m)) for m in metrics),
                     *(_item(_metric(s.best.get(m)), s.best.get(m)) for m in metrics),
                     _item(format_duration(s.training_s), s.training_s)]
            for c, cell in enumerate(cells):
                self.table.setItem(r, c, cell)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.blockSignals(False)

    def cell_text(self, number: int, column: str) -> str:
        """What the table shows for run `number` under `column` (a setting's name, "accuracy final", ...)."""
        row = [s.number for s in self.summaries].index(number)
        return self.table.item(row, self.columns.index(column)).text()

    # -- selection and comparison -----------------------------------------------------
    def selected_runs(self) -> list[int]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.summaries[r].number for r in rows if r < len(self.summaries)]

    def select_runs(self, numbers) -> None:
        wanted = set(numbers)
        self.table.blockSignals(True)
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for r, s in enumerate(self.summaries):
            if s.number in wanted:
                self.table.selectRow(r)
        self.table.setSelectionMode(mode)
        self.table.blockSignals(False)
        self._selected()

    def _selected(self) -> None:
        numbers = self.selected_runs()
        self.comparison = None
        if len(numbers) >= 2:
            try:
                self.comparison = compare_runs(self.root, numbers)
            except (ProjectError, OSError, ValueError) as exc:
                self.message.setText(f"Runs {', '.join(f'{n:03d}' for n in numbers)} could not be compared: "
                                     f"{printable(str(exc))}")
        elif self.summaries:
            self.message.setText(HINT)
        else:
            self.message.setText("")
        self._draw()
        self._update_actions(numbers)
        self.selection_changed.emit(numbers)

    # -- acting on one run --------------------------------------------------------------
    def _one(self) -> RunSummary | None:
        numbers = self.selected_runs()
        if len(numbers) != 1:
            return None
        return next(s for s in self.summaries if s.number == numbers[0])

    def _update_actions(self, numbers) -> None:
        run = self._one()
        pick = "Select one run" if len(numbers) != 1 else ""
        has_model = run is not None and _has_model(run)
        no_model = "" if has_model or run is None else f"Run {run.number:03d} kept no model (no epoch completed)"
        for button, tip in ((self.evaluate_button, "Make this run the current one and evaluate its model"),
                            (self.export_button, "Make this run the current one and export its model"),
                            (self.start_from_button, "Train a new run that starts from this run's model")):
            button.setEnabled(has_model)
            button.setToolTip(pick or no_model or tip)
        resumable = run is not None and run.state not in ("completed", "training")  # "training": live
        self.resume_button.setVisible(resumable)
        self.resume_button.setEnabled(resumable)
        self.resume_button.setToolTip(f"Continue run {run.number:03d} from its last completed epoch" if resumable
                                      else "")

    def _act(self, signal) -> None:
        run = self._one()
        if run is not None:
            signal.emit(run.number)

    def _start_from(self) -> None:
        run = self._one()
        if run is not None and _has_model(run):
            self.start_from_requested.emit(Path(run.folder))

    def _draw(self) -> None:
        c = self.comparison
        if c is None:
            self.loss_plot.clear_runs()
            self.accuracy_plot.clear_runs()
            self.f1_table.clear()
            self.f1_table.setRowCount(0)
            self.f1_table.setColumnCount(0)
            self.f1_title.setText("Per-class F1")
            return
        loss, accuracy = [], []
        kept_epochs = {s.number: s.kept_epoch for s in self.summaries}
        for i, curves in enumerate(c.curves):
            name, colour = run_name(curves.number), run_colour(i)
            kept = kept_epochs.get(curves.number)
            kept = None if kept is None else kept + 1  # the curves count epochs from 1
            loss.append((name, colour, curves.epoch, curves.valid_loss, kept))
            acc = curves.metrics.get("accuracy")
            if acc is not None:
                accuracy.append((name, colour, curves.epoch, acc, kept))
        self.loss_plot.show_runs(loss)
        self.accuracy_plot.show_runs(accuracy)
        self._fill_f1(c)
        shown = ", ".join(f"{n:03d}" for n in c.runs)
        self.message.setText(f"Comparing runs {shown}; differences are against run {c.runs[0]:03d}, "
                             "the first selected." + self._missing_evaluations(c))

    @staticmethod
    def _missing_evaluations(c: RunComparison) -> str:
        missing = [n for n, a in zip(c.runs, c.accuracy) if not math.isfinite(a)]
        if not missing:
            return ""
        return f" No evaluation (not completed): {', '.join(f'{n:03d}' for n in missing)}."

    def _fill_f1(self, c: RunComparison) -> None:
        base = c.runs[0]
        headers = ["Class", f"{base:03d}"]
        for n in c.runs[1:]:
            headers += [f"{n:03d}", f"{n:03d} − {base:03d}"]
        t = self.f1_table
        t.clear()
        t.setColumnCount(len(headers))
        t.setHorizontalHeaderLabels(headers)
        rows = [("accuracy", c.accuracy, c.accuracy - c.accuracy[0])]
        rows += [(printable(name), c.f1[:, j], c.f1_diff[:, j]) for j, name in enumerate(c.classes)]
        t.setRowCount(len(rows))
        for r, (name, values, diffs) in enumerate(rows):
            label = _item(name)
            if r == 0:
                font = label.font()
                font.setItalic(True)
                label.setFont(font)
                label.setToolTip("Accuracy of each run's model on its evaluation split")
            t.setItem(r, 0, label)
            t.setItem(r, 1, _item(_metric(values[0]), values[0]))
            for i in range(1, len(c.runs)):
                t.setItem(r, 2 * i, _item(_metric(values[i]), values[i]))
                diff = _item(self._signed(diffs[i]), diffs[i])
                if math.isfinite(diffs[i]) and abs(diffs[i]) >= 5e-5:
                    diff.setForeground(BETTER if diffs[i] > 0 else WORSE)
                t.setItem(r, 2 * i + 1, diff)
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.f1_title.setText(f"Per-class F1 on each run's evaluation split, against run {base:03d}")

    @staticmethod
    def _signed(value: float) -> str:
        return "-" if not math.isfinite(value) else f"{value:+.4f}"

    def f1_differences(self) -> dict[str, list[float]]:
        """The F1 table's differences as shown, by class: one per run after the first."""
        out = {}
        for r in range(1, self.f1_table.rowCount()):
            out[self.f1_table.item(r, 0).text()] = [
                float(self.f1_table.item(r, col).data(Qt.ItemDataRole.UserRole))
                for col in range(3, self.f1_table.columnCount(), 2)]
        return out



