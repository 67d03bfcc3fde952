"""What can be done to the images selected in any view: relabel, exclude, undo the edit, show in the file manager.

One row of buttons, and the same actions in the view's context menu. The
edits go to the app state's edit list (the open dataset's, kept between
runs), which the next training run applies; the files are never touched
here. Images that are not in the open dataset (a Predict page folder) can
only be shown in the file manager.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QLabel, QMenu, QPushButton, QSizePolicy, QToolButton, QWidget

NEW_CLASS = "New class…"


def show_in_file_manager(paths, open_url=QDesktopServices.openUrl) -> list[Path]:
    """Open each distinct folder holding one of `paths`; returns the folders."""
    folders = list(dict.fromkeys(Path(p).parent for p in paths))
    for folder in folders:
        open_url(QUrl.fromLocalFile(str(folder)))
    return folders


class ImageActions(QWidget):
    """`selected()` gives the paths the actions apply to; `attach(view)` adds
    the context menu to a view and follows its selection."""

    def __init__(self, state, selected: Callable[[], list[Path]], parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.selected = selected
        self.open_url = QDesktopServices.openUrl  # tests replace it
        self.ask_label: Callable[[], str | None] = self._ask_label  # tests replace it
        self.count = QLabel()
        self.count.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the row
        self.relabel_button = QToolButton(text="Relabel")
        self.relabel_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.relabel_button.setToolTip("Give the selected images another class (the next training run uses it)")
        self.relabel_menu = QMenu(self.relabel_button)
        self.relabel_button.setMenu(self.relabel_menu)
        self.exclude_button = QPushButton("Exclude")
        self.exclude_button.setToolTip("Leave the selected images out of the next training run (the files stay)")
        self.exclude_button.clicked.connect(self.exclude)
        self.restore_button = QPushButton("Undo edit")
        self.restore_button.setToolTip("Forget the selected images' relabels and exclusions")
        self.restore_button.clicked.connect(self.restore)
        self.folder_button = QPushButton("Show in folder")
        self.folder_button.setToolTip("Open the folders holding the selected images in the file manager")
        self.folder_button.clicked.connect(self.show_in_folder)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for button in (self.relabel_button, self.exclude_button, self.restore_button, self.folder_button):
            row.addWidget(button)
        row.addWidget(self.count, 1)
        state.dataset_changed.connect(self.refresh)
        state.edits_changed.connect(self.refresh)
        self.refresh()

    def attach(self, view) -> None:
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(lambda pos: self.menu().exec(view.viewport().mapToGlobal(pos)))
        view.selectionModel().selectionChanged.connect(self.refresh)
        model = view.model()
        model.modelReset.connect(self.refresh)
        model.rowsInserted.connect(self.refresh)

    def menu(self) -> QMenu:
        """The actions for the current selection, as a context menu."""
        menu = QMenu(self)
        relabel = menu.addMenu("Relabel as")
        self._fill_classes(relabel)
        relabel.setEnabled(self.relabel_button.isEnabled())
        for button in (self.exclude_button, self.restore_button, self.folder_button):
            action = menu.addAction(button.text(), button.click)
            action.setEnabled(button.isEnabled())
        return menu

    def _fill_classes(self, menu: QMenu) -> None:
        menu.clear()
        for label in self.classes():
            menu.addAction(label, lambda label=label: self.relabel(label))
        menu.addSeparator()
        menu.addAction(NEW_CLASS, self._relabel_new)

    def classes(self) -> list[str]:
        spec = self.state.dataset
        known = set(spec.classes) if spec is not None else set()
        return sorted(known | set(self.state.edits.relabelled.values()))

    def refresh(self, *_args) -> None:
        try:
            paths = self.selected()
        except RuntimeError:  # the view's model signals its reset while the view itself is being destroyed
            return
        ours = self.state.in_dataset(paths)
        n = len(paths)
        self._fill_classes(self.relabel_menu)
        self.count.setText(f"{n} selected" if n else "")
        self.relabel_button.setEnabled(bool(ours))
        self.exclude_button.setEnabled(bool(ours))
        self.restore_button.setEnabled(any(self.state.edits.edited(p) for p in ours))
        self.folder_button.setEnabled(bool(paths))
        outside = n - len(ours)
        tip = f"{outside} of them are not in the open dataset: only its images can be edited" if outside else ""
        self.count.setToolTip(tip)

    # -- the actions --------------------------------------------------------------
    def relabel(self, label: str) -> int:
        n = self.state.relabel(self.selected(), label)
        self._say(f"Relabelled {n} image{'s' if n != 1 else ''} as '{label}' for the next training run")
        return n

    def _relabel_new(self) -> None:
        label = self.ask_label()
        if label:
            self.relabel(label)

    def _ask_label(self) -> str | None:
        label, ok = QInputDialog.getText(self, "Relabel as a new class", "Class name:")
        return label.strip() if ok and label.strip() else None

    def exclude(self) -> int:
        n = self.state.exclude(self.selected())
        self._say(f"Excluded {n} image{'s' if n != 1 else ''} from the next training run (the files stay)")
        return n

    def restore(self) -> int:
        n = self.state.restore(self.selected())
        self._say(f"Undid the edits of {n} image{'s' if n != 1 else ''}")
        return n

    def show_in_folder(self) -> list[Path]:
        return show_in_file_manager(self.selected(), self.open_url)

    def _say(self, text: str) -> None:
        self.state.status_message.emit(text)
        self.refresh()
