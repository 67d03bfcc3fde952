"""What a scanned dataset holds: classes, split sizes, warnings and skipped files, with the class chart."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from tlstudio.core.dataset.spec import SPLITS
from tlstudio.core.printable import printable
from tlstudio.qt.widgets.class_chart import ClassChart

LAYOUTS = {"class-folders": "one folder per class", "split-folders": "train/valid/test folders", "csv": "CSV of file, label"}


class DatasetSummary(QWidget):
    show_skipped_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 15pt; font-weight: 600;")
        self.source = QLabel(wordWrap=True)
        self.source.setStyleSheet("color: #5f6368;")
        self.source.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.counts = QLabel(wordWrap=True)
        self.warnings = QLabel(wordWrap=True)
        self.warnings.setStyleSheet("color: #8a5a00;")
        self.skipped_label = QLabel()
        self.skipped_button = QPushButton("Show skipped files…")
        self.skipped_button.clicked.connect(self.show_skipped_requested)
        self.chart = ClassChart()
        self.chart.setMinimumHeight(220)

        skipped_row = QHBoxLayout()
        skipped_row.addWidget(self.skipped_label, 1)
        skipped_row.addWidget(self.skipped_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.source)
        layout.addSpacing(4)
        layout.addWidget(self.counts)
        layout.addWidget(self.warnings)
        layout.addLayout(skipped_row)
        layout.addSpacing(4)
        chart_title = QHBoxLayout()
        chart_title.addWidget(QLabel("<b>Images per class</b>"), 1)
        self.legend = QLabel()
        chart_title.addWidget(self.legend)
        layout.addLayout(chart_title)
        layout.addWidget(self.chart, 1)

    def set_spec(self, spec) -> None:
        self.chart.set_spec(spec)
        self.legend.setText(self.chart.legend_html())
        if spec is None:
            return
        root = spec.source_zip or spec.root
        self.title.setText(html.escape(printable(root.name or root)))
        kind = LAYOUTS.get(spec.layout, spec.layout)
        self.source.setText(f"{html.escape(printable(root))}<br>{kind}{' (zip)' if spec.source_zip else ''}")
        splits = spec.split_counts()
        split_text = " · ".join(f"{s} {splits[s]:,}" for s in SPLITS if splits[s])
        self.counts.setText(
            f"<b>{len(spec.classes)}</b> classes · <b>{len(spec):,}</b> images<br>{split_text}"
            + (f" (random split, seed {spec.seed})" if spec.seed is not None else "")
        )
        self.warnings.setText("<br>".join(f"⚠ {html.escape(printable(w))}" for w in spec.warnings))
        self.warnings.setVisible(bool(spec.warnings))
        n = len(spec.skipped)
        self.skipped_label.setText(f"{n:,} file{'s' if n != 1 else ''} skipped" if n else "No files skipped")
        self.skipped_button.setEnabled(bool(n))
