"""File menu entries for projects: New, Open (Ctrl+Shift+O), Save (Ctrl+S), Save as (Ctrl+Shift+S), Recent."""
from __future__ import annotations

from PySide6.QtWidgets import QMenu

from tlstudio.qt import settings


def add_project_actions(window, menu: QMenu, controller) -> None:
    window.new_project_action = window._action(menu, "&New project…", controller.new_project)
    window.open_project_action = window._action(menu, "Open &project…", controller.open_project_dialog, "Ctrl+Shift+O")
    window.save_project_action = window._action(menu, "&Save project", controller.save, "Ctrl+S")
    window.save_as_action = window._action(menu, "Save project &as…", controller.save_as, "Ctrl+Shift+S")
    window.recent_projects_menu = QMenu("Recent p&rojects", window)
    window.recent_projects_menu.aboutToShow.connect(lambda: fill_recent_projects(window, controller))
    menu.addMenu(window.recent_projects_menu)
    fill_recent_projects(window, controller)


def fill_recent_projects(window, controller) -> None:
    menu = window.recent_projects_menu
    menu.clear()
    recent = settings.recent_projects()
    for path in recent:
        menu.addAction(path).triggered.connect(lambda _=False, p=path: controller.open_project(p))
    if recent:
        menu.addSeparator()
        menu.addAction("Clear list", lambda: [settings.forget_recent_project(p) for p in recent])
    else:
        menu.addAction("No recent projects").setEnabled(False)
