"""The window: workflow steps, gating, shortcuts, drops of every layout, bad drops, remembered settings, clean exit."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QSize, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent

from fixtures_shell import CLASSES, drop, write_images
from tlstudio.qt import settings
from tlstudio.qt.workers import EngineTask

REPO = Path(__file__).resolve().parents[2]


def wait_loaded(qtbot, window, timeout=15_000):
    qtbot.waitUntil(lambda: not window.data_page.is_scanning(), timeout=timeout)


def test_sidebar_lists_the_workflow_and_shortcuts_switch_steps(main_window, qtbot):
    titles = [main_window.sidebar.item(i).text() for i in range(main_window.sidebar.count())]
    assert titles == ["1  Data", "2  Augment", "3  Model", "4  Learning rate", "5  Train", "6  Evaluate", "7  Export", "8  Predict"]
    assert [a.shortcut().toString() for a in main_window.step_actions] == [f"Ctrl+{n}" for n in range(1, 9)]
    assert main_window.open_folder_action.shortcut().toString() == "Ctrl+O"
    main_window.show()
    qtbot.waitExposed(main_window)
    main_window.activateWindow()
    qtbot.waitUntil(main_window.isActiveWindow)
    qtbot.keyClick(main_window.sidebar, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert main_window.current_page_key() == "train"
    main_window.step_actions[2].trigger()
    assert main_window.current_page_key() == "model"
    assert main_window.stack.currentWidget() is main_window.hosts["model"]


def test_pages_needing_a_dataset_say_so_and_lead_to_data(main_window, qtbot, demo_spec):
    host = main_window.hosts["augment"]
    main_window.show_page("augment")
    assert host.is_gated()
    assert "Open a dataset first" in host.gate_label.text()
    qtbot.mouseClick(host.gate_button, Qt.MouseButton.LeftButton)
    assert main_window.current_page_key() == "data"
    main_window.state.set_dataset(demo_spec)
    assert not host.is_gated()


@pytest.mark.parametrize("layout", ["class-folders", "split-folders", "csv", "zip"])
def test_dropping_each_layout_opens_it(main_window, qtbot, dataset_factory, layout):
    path = dataset_factory(layout)
    main_window.show_page("model")
    with qtbot.waitSignal(main_window.state.dataset_changed, timeout=15_000) as blocker:
        assert drop(main_window, path)
    spec = blocker.args[0]
    assert main_window.state.dataset is spec
    assert spec.classes == list(CLASSES)
    assert len(spec) == (24 if layout == "split-folders" else 18)
    assert main_window.current_page_key() == "data"
    assert main_window.data_page.gallery.model.rowCount() == len(spec)
    assert settings.recent_datasets()[0] == str(path.resolve())
    assert str(path) in main_window.statusBar().currentMessage()
    wait_loaded(qtbot, main_window)


@pytest.mark.parametrize("bad", ["one image", "empty folder", "text file"])
def test_a_bad_drop_explains_itself_and_keeps_the_dataset(main_window, qtbot, demo_spec, tmp_path, bad):
    main_window.state.set_dataset(demo_spec)
    if bad == "one image":
        path = write_images(tmp_path / "pics", 1, (10, 20, 30))[0]
    elif bad == "empty folder":
        path = tmp_path / "nothing here"
        path.mkdir()
    else:
        path = tmp_path / "notes.txt"
        path.write_text("not a dataset")
    banner = main_window.data_page.banner
    assert drop(main_window, path)
    qtbot.waitUntil(lambda: banner.text() != "", timeout=10_000)
    wait_loaded(qtbot, main_window)
    assert banner.level == "error"
    assert str(path) in banner.text()
    assert "one subfolder of images per class" in banner.text()
    assert main_window.state.dataset is demo_spec
    assert main_window.data_page.gallery.model.total == len(demo_spec)
    assert settings.recent_datasets() == []


def test_a_drop_on_any_widget_reaches_the_window(main_window, qtbot, demo_dir, demo_spec):
    main_window.state.set_dataset(demo_spec)
    main_window.show()
    qtbot.waitExposed(main_window)
    page = main_window.data_page
    for target in (main_window.sidebar.viewport(), page.gallery.view.viewport(), page.summary.chart.viewport(), page.gallery.search):
        with qtbot.waitSignal(page.loader.started, timeout=2000):
            assert drop(main_window, demo_dir, target)
        page.loader.cancel()
        qtbot.waitUntil(lambda: not page.is_scanning(), timeout=10_000)
    assert page.gallery.search.text() == ""


def test_drag_enter_accepts_local_paths_only(main_window):
    mime = QMimeData()
    mime.setText("just text")
    event = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    main_window.dragEnterEvent(event)
    assert not event.isAccepted()
    mime.setUrls([QUrl("https://example.com/data.zip")])
    event = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    main_window.dragEnterEvent(event)
    assert not event.isAccepted()


def test_cancel_keeps_the_previous_dataset(main_window, qtbot, demo_spec, dataset_factory):
    main_window.state.set_dataset(demo_spec)
    page = main_window.data_page
    with qtbot.waitSignal(page.loader.cancelled, timeout=15_000):
        main_window.open_dataset(dataset_factory("class-folders", per_class=30))
        assert page.scan_row.isVisibleTo(page) and page.cancel_button.isEnabled()
        qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    wait_loaded(qtbot, main_window)
    assert main_window.state.dataset is demo_spec
    assert not page.scan_row.isVisibleTo(page)
    assert "Cancelled" in main_window.statusBar().currentMessage()


def test_closing_while_a_scan_runs_stops_it(qtbot, state, dataset_factory, monkeypatch):
    from tlstudio.qt import dataset_loader
    from tlstudio.qt.main_window import MainWindow

    real_scan, reached = dataset_loader._scan, []

    def held_scan(path, reporter, **options):
        """The real scan, held at its start until it is cancelled: a small folder scans in
        milliseconds, which may be over before the test looks."""
        reached.append(path)
        while not reporter.cancel_requested():
            time.sleep(0.01)
        return real_scan(path, reporter, **options)

    monkeypatch.setattr(dataset_loader, "_scan", held_scan)
    window = MainWindow(state)
    qtbot.addWidget(window)
    window.show()
    window.open_dataset(dataset_factory("class-folders", per_class=40))
    assert window.data_page.is_scanning()
    qtbot.waitUntil(lambda: bool(reached), timeout=10_000)
    window.close()
    assert EngineTask.live_tasks() == []
    assert state.dataset is None


def test_geometry_and_recent_datasets_are_remembered(qtbot, state, demo_dir):
    from tlstudio.qt.main_window import MainWindow

    first = MainWindow(state)
    qtbot.addWidget(first)
    first.show()
    size = first.minimumSizeHint().expandedTo(QSize(900, 640)) + QSize(31, 17)
    first.resize(size)
    qtbot.waitUntil(lambda: first.size() == size)
    settings.add_recent_dataset(demo_dir)
    first.close()
    assert settings.window_geometry()[0] == first.saveGeometry()

    second = MainWindow()
    qtbot.addWidget(second)
    assert second.height() == size.height()  # the width is clamped to the small offscreen screen
    second._fill_recent_menu()
    actions = second.recent_menu.actions()
    assert actions[0].text() == str(demo_dir.resolve())
    with qtbot.waitSignal(second.state.dataset_changed, timeout=15_000):
        actions[0].trigger()
    assert len(second.state.dataset) == 600
    second.close()


def test_the_app_opens_a_dataset_given_on_the_command_line(qtbot, demo_dir):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from tlstudio import app
    from tlstudio.qt.main_window import MainWindow

    seen = {}

    def check():
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if windows and windows[0].state.dataset is not None:
            seen["spec"] = windows[0].state.dataset
            seen["style"] = QApplication.style().name()
            seen["name"] = QApplication.applicationName()
            seen["icon"] = not QApplication.windowIcon().isNull()
            seen["switch"] = sys.getswitchinterval()
            windows[0].close()
        else:
            QTimer.singleShot(50, check)

    QTimer.singleShot(50, check)
    before = sys.getswitchinterval()
    assert app.main([str(demo_dir)]) == 0
    assert seen["switch"] == app.GUI_SWITCH_INTERVAL_S and sys.getswitchinterval() == before
    assert len(seen["spec"]) == 600 and len(seen["spec"].classes) == 10
    assert seen["style"].lower() == "fusion"
    assert seen["name"] == "TL Studio"
    assert seen["icon"]


def test_building_the_window_imports_neither_torch_nor_fastai(demo_dir, tmp_path):
    code = textwrap.dedent(
        f"""
        import sys
        from tlstudio.app import create_application
        app = create_application()
        from tlstudio.qt.main_window import MainWindow
        w = MainWindow()
        w.show()
        from PySide6.QtCore import QEventLoop
        QEventLoop().processEvents()
        heavy = sorted(m for m in ("torch", "fastai", "torchvision", "timm") if m in sys.modules)
        print("HEAVY", ",".join(heavy))
        w.close()
        """
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "TLSTUDIO_SETTINGS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY \n" in out.stdout or out.stdout.strip().endswith("HEAVY"), out.stdout


def test_cli_subcommands_still_work():
    out = subprocess.run([sys.executable, "-m", "tlstudio", "--version"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("tlstudio ")


def test_closing_during_training_asks_and_no_keeps_the_window(main_window, qtbot, monkeypatch):
    train = main_window.pages["train"]
    main_window.show()
    qtbot.waitExposed(main_window)
    monkeypatch.setattr(train, "is_training", lambda: True)
    asked = []
    train.confirm = lambda title, text: asked.append(title) or False
    assert main_window.close() is False
    assert asked == ["Training is running"] and main_window.isVisible()

    cancelled = []
    monkeypatch.setattr(train, "cancel", lambda: cancelled.append(True))
    train.confirm = lambda title, text: True
    assert main_window.close() is True
    assert cancelled == [True] and not main_window.isVisible()


def test_help_menu_shows_shortcuts_how_it_trains_and_versions(main_window, qtbot, artifacts_dir):
    from importlib import metadata

    menus = [a.text().replace("&", "") for a in main_window.menuBar().actions()]
    assert menus[-1] == "Help"
    help_menu = main_window.menuBar().actions()[-1].menu()
    entries = {a.text(): a for a in help_menu.actions()}
    assert set(entries) == {"Keyboard shortcuts", "How TL Studio trains", "About TL Studio"}

    entries["Keyboard shortcuts"].trigger()
    shortcuts = main_window.help_dialogs["Keyboard shortcuts"].browser.toPlainText()
    for keys, what in (("Ctrl+O", "Open dataset folder"), ("Ctrl+1", "Data"), ("Ctrl+7", "Export"), ("Esc", "Cancel training")):
        assert f"{keys}\n{what}" in shortcuts, (keys, what, shortcuts)  # a table row: the keys, then what they do

    entries["How TL Studio trains"].trigger()
    how = main_window.help_dialogs["How TL Studio trains"].browser.toPlainText()
    assert "Stage 1" in how and "discriminative" in how and "Keep best" in how

    entries["About TL Studio"].trigger()
    about = main_window.help_dialogs["About TL Studio"]
    text = about.browser.toPlainText()
    assert "Apache License 2.0" in text
    assert f"fastai\n{metadata.version('fastai')}\nApache-2.0" in text
    assert f"torch\n{metadata.version('torch')}\nBSD-3-Clause" in text
    assert "Qt 6." in text
    assert not about.isModal()
    about.grab().save(str(artifacts_dir / "help_about.png"))


def test_file_dialogs_open_in_home_then_where_the_user_last_was(main_window, qtbot, monkeypatch, tmp_path, dataset_factory):
    from PySide6.QtWidgets import QFileDialog

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    dataset = dataset_factory("class-folders")
    asked = []

    def choose(_parent, _title, start, *_rest):
        asked.append(start)
        return str(dataset)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", choose)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda _p, _t, start, *_r: (asked.append(start), ("", ""))[1])
    with qtbot.waitSignal(main_window.state.dataset_changed, timeout=15_000):
        main_window.open_folder_action.trigger()
    assert asked == [str(home)]  # first time: the user's home, not the app's folder
    main_window.data_page.open_file_dialog()
    assert asked[1] == str(dataset.parent)  # then beside the dataset last opened
    with qtbot.waitSignal(main_window.state.dataset_changed, timeout=15_000):
        main_window.data_page.open_folder_dialog()
    assert asked[2] == str(dataset.parent)


def test_every_sidebar_step_says_what_it_is_for(main_window):
    tips = [main_window.sidebar.item(row).toolTip() for row in range(main_window.sidebar.count())]
    assert all(tips) and len(set(tips)) == len(tips)
