"""The thumbnail grid with its filter bar: class, split, file-name search and a count."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QListView, QStackedWidget, QVBoxLayout, QWidget

from tlstudio.core.dataset.spec import SPLITS
from tlstudio.core.printable import printable
from tlstudio.qt.widgets.gallery_model import GalleryModel

ALL = "All"
CAPTION_SAMPLE = 400  # file names measured to size the cells; a dataset's names share a pattern
CAPTION_PADDING = 14  # the delegate's text margins (6 px) and air between neighbours


class GalleryView(QListView):
    """A virtualised icon grid: only rows on screen are painted, so only they ask for thumbnails."""

    def __init__(self, model: GalleryModel, parent: QWidget | None = None):
        super().__init__(parent)
        thumb = model.thumb_size
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)  # static + uniform sizes: the fast list layout, no per-item geometry
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setWrapping(True)
        self.setIconSize(thumb)
        self.setGridSize(QSize(thumb.width() + 16, thumb.height() + 26))
        # A name longer than its cell is elided in the middle, whole in the tooltip.
        self.setSpacing(0)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.setModel(model)
        self._gallery_model = model
        self._trim = QTimer(self, singleShot=True, interval=30)
        self._trim.timeout.connect(self._keep_visible_only)
        self.verticalScrollBar().valueChanged.connect(self._trim.start)

    def fit_captions(self, names: list[str]) -> None:
        """Cells as wide as the widest of `names` needs (up to twice the thumbnail), so
        names read whole under small thumbnails; never narrower than thumbnail and margin."""
        thumb = self._gallery_model.thumb_size
        metrics = self.fontMetrics()
        widest = max((metrics.horizontalAdvance(name) for name in names), default=0) + CAPTION_PADDING
        width = min(max(thumb.width() + 16, widest), 2 * thumb.width() + 16)
        self.setGridSize(QSize(width, thumb.height() + 26))

    def visible_rows(self) -> tuple[int, int]:
        """First and last row that can be on screen now (the last may be past the end)."""
        grid = self.gridSize()
        first = self.indexAt(QPoint(grid.width() // 2, grid.height() // 2))
        if not first.isValid():
            first = self.indexAt(QPoint(grid.width() // 2, grid.height()))
        columns = max(1, self.viewport().width() // max(1, grid.width()))
        lines = self.viewport().height() // max(1, grid.height()) + 2
        start = first.row() if first.isValid() else 0
        return start, start + columns * lines

    def _keep_visible_only(self) -> None:
        self._gallery_model.keep_only(*self.visible_rows())


class Gallery(QWidget):
    """Filter bar over the grid. `image_activated(index)` on double-click or Enter (Qt's `activated`)."""

    image_activated = Signal(QModelIndex)

    def __init__(self, parent: QWidget | None = None, thumb_size: QSize = QSize(96, 96)):
        super().__init__(parent)
        self.model = GalleryModel(thumb_size, self)
        self.view = GalleryView(self.model)
        self.view.activated.connect(self.image_activated)

        self.class_box = QComboBox(minimumContentsLength=8)
        self.class_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.split_box = QComboBox()
        self.split_box.addItems([ALL, *SPLITS])
        self.search = QLineEdit(placeholderText="Search file names", clearButtonEnabled=True)
        self.search.setMaximumWidth(260)
        # Room for the placeholder: a squeezed search box reads as a blank sliver.
        self.search.setMinimumWidth(self.search.fontMetrics().horizontalAdvance(self.search.placeholderText()) + 40)
        self.search.setAcceptDrops(False)  # a dropped folder opens a dataset; it is not search text
        self.count_label = QLabel()
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(self._debounce.start)
        self.class_box.currentIndexChanged.connect(self.apply_filter)
        self.split_box.currentIndexChanged.connect(self.apply_filter)
        self.model.filter_changed.connect(self._show_count)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Class"))
        bar.addWidget(self.class_box)
        bar.addSpacing(8)
        bar.addWidget(QLabel("Split"))
        bar.addWidget(self.split_box)
        bar.addSpacing(8)
        bar.addWidget(self.search, 1)
        bar.addStretch(0)
        bar.addWidget(self.count_label)
        self.empty_label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty_label.setStyleSheet("color: #5f6368;")
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)  # class names and searches are the user's text
        self.views = QStackedWidget()
        self.views.addWidget(self.view)
        self.views.addWidget(self.empty_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.views, 1)

    def set_spec(self, spec) -> None:
        for box in (self.class_box, self.split_box, self.search):
            box.blockSignals(True)
        self.class_box.clear()
        if spec is not None:
            self.class_box.addItems([ALL, *spec.classes])
            splits = [s for s in SPLITS if spec.split_counts().get(s)]
        else:
            splits = []
        self.split_box.clear()
        self.split_box.addItems([ALL, *splits])
        self.search.clear()
        for box in (self.class_box, self.split_box, self.search):
            box.blockSignals(False)
        self.model.set_spec(spec)
        if spec is not None:
            step = max(1, len(spec.items) // CAPTION_SAMPLE)
            self.view.fit_captions([printable(path.name) for path in spec.items[::step]])
        self.view.scrollToTop()

    def apply_filter(self) -> None:
        self._debounce.stop()
        label = self.class_box.currentText()
        split = self.split_box.currentText()
        self.model.set_filter(
            label=None if label in (ALL, "") else label,
            split=None if split in (ALL, "") else split,
            search=self.search.text(),
        )

    def _show_count(self, shown: int, total: int) -> None:
        self.count_label.setText(f"Showing {shown:,} of {total:,}")
        if shown == 0 and total > 0:
            self.empty_label.setText(self._no_match_text())
            self.views.setCurrentWidget(self.empty_label)
        else:
            self.views.setCurrentWidget(self.view)

    def _no_match_text(self) -> str:
        model = self.model
        what = [f"in class {model.label}" if model.label else "", f"in the {model.split} split" if model.split else ""]
        if model.search:
            what.append(f"with “{model.search}” in the file name")
        return f"No images {' '.join(w for w in what if w)}. Choose “All” or clear the search to see more."

    def show_class(self, name: str | None) -> None:
        """Filter to one class (None: every class), as choosing it in the class box does."""
        self.class_box.setCurrentText(name or ALL)

    def shutdown(self) -> None:
        self.model.shutdown()
