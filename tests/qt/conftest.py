"""Shared Qt fixtures: an AppState, the scanned demo dataset, a main window, tiny datasets on
disk, and the session's trained model held in the window's engine process."""
from __future__ import annotations

import dataclasses

import pytest
import train_targets
from fixtures_shell import make_dataset


@pytest.fixture(autouse=True)
def collection_back_to_normal():
    """A window moves cyclic garbage collection onto its GUI thread's timer; the tests after this
    one may run no event loop to drive it, so each test ends with Python's own collection back."""
    yield
    from tlstudio.qt.gui_thread_gc import collect_anywhere_again

    collect_anywhere_again()


@pytest.fixture
def state(qtbot):
    from tlstudio.qt.app_state import AppState

    return AppState()


@pytest.fixture(scope="session")
def demo_spec(demo_dir):
    """The bundled demo (10 classes x 60 Fashion-MNIST PNGs), scanned once per session."""
    from tlstudio.core.dataset.scan import scan

    return scan(demo_dir)


@pytest.fixture
def main_window(qtbot, state):
    """A MainWindow on `state`, closed (pages shut down, tasks stopped) at teardown."""
    from tlstudio.qt.main_window import MainWindow

    window = MainWindow(state)
    # Not qtbot.addWidget: pytest-qt closes its widgets before fixtures end, which would ask
    # about the unsaved model before this fixture could answer.
    yield window
    window.projects.confirm_discard = lambda _what, _reasons: "discard"  # the test is over: nothing to keep
    window.close()
    window.deleteLater()


@pytest.fixture(autouse=True)
def session_engine(request, monkeypatch):
    """The window's engine outlives each test's pages and windows: the Train and LR pages end it
    when they shut down, as the window's close does, and starting the next one costs 4-5 s. A test
    that checks that ending asks for `engine_ends_on_close`; the engine follows each test's
    environment (`train_targets.engine_follows_this_test`, run before every test body)."""
    if "engine_ends_on_close" in request.fixturenames:
        return
    from tlstudio.qt.pages.process_pages import UsesTrainingProcess

    def keep_the_engine(page) -> None:
        page._closing = True  # no new engine from this page, as on a real close; the session's stays

    monkeypatch.setattr(UsesTrainingProcess, "release_training_process", keep_the_engine)


@pytest.fixture
def engine_ends_on_close():
    """For a test that checks that a page's shutdown ends the engine process (`session_engine`
    keeps it otherwise)."""


@pytest.fixture
def engine_env(monkeypatch):
    """`engine_env(name, value)` sets an environment variable in this process and in the
    running engine (a new one inherits it); the next test's engine follows that test's own."""

    def set_env(name: str, value) -> None:
        monkeypatch.setenv(name, str(value))
        train_targets.engine_follows_this_test()

    return set_env


_DIALOGS = ("warning", "question", "critical", "information")


@pytest.fixture(autouse=True)
def no_unexpected_dialogs(monkeypatch):
    """A modal message box or file dialog runs an event loop of its own that no test can answer,
    and blocks the whole run past every timeout. Tests replace the page's own `confirm...` or
    `choose...` hook (or the QFileDialog function, as the window tests do); one that reaches a
    real box instead gets No, Cancel or no file, and fails, naming the box."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    shown = []

    def fake(kind):
        def box(_parent, title, text, *_buttons):
            shown.append(f"{kind} {title!r}: {text}")
            return QMessageBox.StandardButton.No
        return staticmethod(box)

    def exec_box(box):
        shown.append(f"{box.windowTitle()!r}: {box.text()}")
        return int(QMessageBox.StandardButton.Cancel.value)

    def file_dialog(kind):
        def ask(_parent=None, caption="", *_rest, **_options):
            shown.append(f"file dialog {caption!r}")
            return "" if kind == "getExistingDirectory" else ("", "")
        return staticmethod(ask)

    for kind in _DIALOGS:
        monkeypatch.setattr(QMessageBox, kind, fake(kind))
    monkeypatch.setattr(QMessageBox, "exec", exec_box)
    for kind in ("getExistingDirectory", "getOpenFileName", "getOpenFileNames", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, kind, file_dialog(kind))
    yield shown
    if shown:
        pytest.fail(f"a modal dialog was shown that no test answered: {shown}")


@pytest.fixture
def dataset_factory(tmp_path, monkeypatch):
    """`dataset_factory(layout)` writes a tiny dataset under tmp_path; zips extract under tmp_path too."""
    monkeypatch.setenv("TLSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    return lambda layout, per_class=6: make_dataset(tmp_path / layout, layout, per_class)


_hosted: dict = {}  # (engine pid) -> the TrainedModel held there


@pytest.fixture
def trained_result(trained_run, tmp_path_factory):
    """The session's trained model as the window sees it: held in the engine process (the same
    weights as `trained_run.result.learn`), its result naming the session's `tiny_spec`. A test
    that ended the engine, or trained another model there, gets it held again."""
    import torch

    from tlstudio.qt import engine

    host = engine.host()
    host.start()
    cached = _hosted.get(host.pid)
    if cached is None or not host.run(train_targets.IsHeld(cached.model.id)):  # a later run replaced it
        result = trained_run.result
        weights = tmp_path_factory.mktemp("hosted") / "weights.pth"
        torch.save(result.learn.model.state_dict(), weights)
        job = train_targets.AdoptWeights(result.spec, result.config, str(weights), result.learn.opt.frozen_idx,
                                         list(result.history), result.status, result.kept_epoch, result.message)
        _hosted[host.pid] = dataclasses.replace(host.run(job), spec=result.spec)
    return _hosted[host.pid]
