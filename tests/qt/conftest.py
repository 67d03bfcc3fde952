"""Shared Qt fixtures: an AppState, the scanned demo dataset, a main window, and tiny datasets on disk."""
from __future__ import annotations

import pytest
from fixtures_shell import make_dataset


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
    qtbot.addWidget(window)
    yield window
    window.close()


@pytest.fixture
def dataset_factory(tmp_path, monkeypatch):
    """`dataset_factory(layout)` writes a tiny dataset under tmp_path; zips extract under tmp_path too."""
    monkeypatch.setenv("TLSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    return lambda layout, per_class=6: make_dataset(tmp_path / layout, layout, per_class)
