"""A window that trains into a project until it is killed: it opens the dataset DATA, makes the
project PROJECT, starts a run with EPOCHS stage-2 epochs, writes {"window": pid, "engine": pid}
to INFO once the engine process runs it, and keeps its event loop going.

Run by tests/qt/test_killed_window.py as `python killed_window.py DATA PROJECT INFO EPOCHS`."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from window_workflow import wait as _run_until  # noqa: E402  (the same event-loop wait)


def wait(done, what: str) -> None:
    _run_until(None, done, what)


def main(data: str, project: str, info: str, epochs: str) -> None:
    from PySide6.QtWidgets import QApplication

    from tlstudio.core.atomic_files import atomic_write_text
    from tlstudio.core.config import AugmentConfig
    from tlstudio.qt import engine
    from tlstudio.qt.app_state import AppState
    from tlstudio.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(AppState())
    window.show()
    window.data_page.open_path(Path(data))
    wait(lambda: window.state.dataset is not None and not window.data_page.is_scanning(), "the dataset")
    window.state.update_train_config(arch="mobilenet_v2", augment=AugmentConfig(size=32), bs=8, freeze_epochs=1,
                                     epochs=int(epochs), device="cpu", seed=1)
    window.projects.choose_new_project = lambda: Path(project)
    if not window.projects.new_project():
        raise SystemExit("the project was not made")
    train = window.pages["train"]
    train.start()
    if not train.is_training():
        raise SystemExit("the run did not start")
    wait(lambda: engine.host().alive(), "the engine process")
    atomic_write_text(Path(info), json.dumps({"window": os.getpid(), "engine": engine.host().pid}))
    app.exec()  # until killed


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    main(*sys.argv[1:5])
