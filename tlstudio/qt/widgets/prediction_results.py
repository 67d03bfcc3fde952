"""What one batch of predictions gave: a one-line summary over three tabs: the
predictions, the accuracy with its confusion matrix (labelled folders only),
and every dropped file that was no image, each named with why. Clicking a
matrix cell shows that cell's images in the predictions tab."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QTabWidget, QVBoxLayout, QWidget

from tlstudio.qt.widgets.confusion_matrix_view import ConfusionMatrixView
from tlstudio.qt.widgets.prediction_table import PredictionTable

PREDICTIONS_TAB, ACCURACY_TAB, SKIPPED_TAB = range(3)


def accuracy_text(score) -> str:
    return f"Accuracy <b>{score.accuracy:.1%}</b>: {score.n_correct} of {score.n_scored} images in class folders predicted right"


def summary_text(result) -> str:
    if result is None:
        return ""
    errors = sum(1 for p in result.predictions if p.error)
    parts = [f"{len(result.predictions) - errors} images predicted"]
    if errors:
        parts.append(f"{errors} could not be read")
    if result.score is not None:
        parts.append(accuracy_text(result.score))
    skipped = len(result.inputs.skipped)
    if skipped:
        parts.append(f"{skipped} other file{'s' if skipped != 1 else ''} skipped (see Skipped)")
    return " · ".join(parts)


class PredictionResults(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.summary = QLabel("", wordWrap=True)
        self.table = PredictionTable()
        self.cell_label = QLabel("", wordWrap=True)
        self.all_button = QPushButton("Show all")
        self.all_button.clicked.connect(lambda: self.show_cell(None))
        cell_row = QHBoxLayout()
        cell_row.addWidget(self.cell_label, 1)
        cell_row.addWidget(self.all_button)
        predictions_tab = QWidget()
        predictions_layout = QVBoxLayout(predictions_tab)
        predictions_layout.setContentsMargins(0, 0, 0, 0)
        predictions_layout.addLayout(cell_row)
        predictions_layout.addWidget(self.table, 1)
        self.accuracy_label = QLabel("", wordWrap=True)
        self.matrix = ConfusionMatrixView()
        self.matrix.cell_clicked.connect(lambda i, j: self.show_cell((self.matrix.classes[i], self.matrix.classes[j])))
        accuracy_tab = QWidget()
        accuracy_layout = QVBoxLayout(accuracy_tab)
        accuracy_layout.addWidget(self.accuracy_label)
        accuracy_layout.addWidget(self.matrix, 1)
        self.skipped_list = QListWidget()
        self.tabs = QTabWidget()
        self.tabs.addTab(predictions_tab, "Predictions")
        self.tabs.addTab(accuracy_tab, "Accuracy")
        self.tabs.addTab(self.skipped_list, "Skipped")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        self.show_result(None)

    def show_cell(self, cell: tuple[str, str] | None) -> None:
        """Only the images whose folder names `cell[0]` and that were predicted `cell[1]`; all when None."""
        self.table.set_cell(cell)
        self.cell_label.setVisible(cell is not None)
        self.all_button.setVisible(cell is not None)
        if cell is not None:
            self.cell_label.setText(f"Showing the images of class <b>{cell[0]}</b> predicted as <b>{cell[1]}</b>")
            self.tabs.setCurrentIndex(PREDICTIONS_TAB)

    def show_result(self, result) -> None:
        """Draws a core.predict_batch.BatchResult, or nothing (None)."""
        self.show_cell(None)
        self.table.set_predictions(result.predictions if result else [], result.inputs.truth if result else {})
        skipped = result.inputs.skipped if result else []
        self.skipped_list.clear()
        for entry in skipped:
            item = QListWidgetItem(f"{entry.detail} (in {entry.path.parent})")
            item.setToolTip(str(entry.path))
            self.skipped_list.addItem(item)
        self.tabs.setTabText(SKIPPED_TAB, f"Skipped ({len(skipped)})")
        self.tabs.setTabEnabled(SKIPPED_TAB, bool(skipped))
        score = result.score if result else None
        self.tabs.setTabEnabled(ACCURACY_TAB, score is not None)
        if score is None:
            self.matrix.clear()
            self.accuracy_label.setText("")
        else:
            self.matrix.set_matrix(score.classes, score.confusion)
            folders = ", ".join(p.name for p in result.inputs.labelled_folders)
            self.accuracy_label.setText(
                f"{accuracy_text(score)} (labelled by the class folders in {folders}). "
                "Rows: the class its folder names; columns: the predicted class."
            )
        self.summary.setText(summary_text(result))

    def shutdown(self) -> None:
        self.table.shutdown()
