"""The Runs panel as a dock of the main window, opened from Go > Runs (Ctrl+R).

A dock leaves every page as it is: the panel sits below whichever page is
shown, or floats beside the window. It follows the open project and reads
its runs again when a run ends, while it is shown (on showing it otherwise).
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMenu

from tlstudio.qt.widgets.runs_panel import RunsPanel


class RunsDock(QDockWidget):
    def __init__(self, window):
        super().__init__("Runs", window)
        self.setObjectName("RunsDock")  # the window's saved state names its docks
        self.window_ = window
        self.panel = RunsPanel()
        self.setWidget(self.panel)
        self.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea)
        self._stale = True
        projects = window.state.project
        projects.changed.connect(self._project_changed)
        projects.run_changed.connect(lambda _run: self.refresh())
        window.state.training_changed.connect(lambda _result: self.refresh())
        # A run that ends with no usable model (failed before its first epoch) changes no state.
        window.pages["train"].running_changed.connect(lambda running: running or self.refresh())
        controller = window.projects
        self.panel.evaluate_requested.connect(lambda number: controller.show_run(number, "evaluate"))
        self.panel.export_requested.connect(lambda number: controller.show_run(number, "export"))
        self.panel.resume_requested.connect(controller.resume)
        self.panel.start_from_requested.connect(self._start_from)
        self.visibilityChanged.connect(lambda shown: shown and self._stale and self.refresh())

    def _start_from(self, folder) -> None:
        """The next run starts from the run's model: the Model page shows what that means."""
        self.window_.pages["model"].set_start_from(str(folder))
        self.window_.show_page("model")

    def _project_changed(self, project) -> None:
        root = self.window_.state.project.root
        if root != self.panel.root:
            self.panel.root = root
            self._stale = True
        self.refresh()

    def refresh(self) -> None:
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        self.panel.set_project(self.panel.root)


def add_runs_dock(window, go_menu: QMenu) -> RunsDock:
    dock = RunsDock(window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()
    action = dock.toggleViewAction()
    action.setText("&Runs")
    action.setShortcut("Ctrl+R")
    go_menu.addSeparator()
    go_menu.addAction(action)
    window.runs_action = action
    return dock
