"""SIGKILL a real window mid-stage-2 of a run into a project: its engine process goes too, the
project opens, and a new window offers to recover the run, resumes it and shows every epoch.

The window runs in a subprocess (tests/qt/killed_window.py, offscreen); the test watches the
run's checkpoint and kills the window once a stage-2 epoch is in it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_projects_window import RUN_TIMEOUT_MS, make_window  # noqa: F401

from tlstudio.core.project.layout import ProjectError
from tlstudio.core.project.runs import list_runs

DRIVER = Path(__file__).with_name("killed_window.py")
REPO = Path(__file__).resolve().parents[2]
FREEZE_EPOCHS, EPOCHS = 1, 4  # as the driver trains: enough stage-2 epochs to be killed amid them


def _stage2_checkpoint(run_folder: Path):
    from tlstudio.core.project.checkpoint import read_checkpoint

    try:
        checkpoint = read_checkpoint(run_folder, tensors=False)
    except ProjectError:  # being replaced this instant
        return None
    return checkpoint if checkpoint is not None and checkpoint.stage == 2 else None


def _gone(pid: int) -> bool:
    """No such process, or only its exit status left (a zombie not yet reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return fields[0] in ("Z", "X")


@pytest.mark.timeout(900)
def test_a_killed_window_leaves_no_engine_and_its_run_resumes_in_a_new_window(qtbot, make_window, tiny_spec,
                                                                              tmp_path):
    root, info, log = tmp_path / "killed.tlsproject", tmp_path / "pids.json", tmp_path / "window.log"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO),
           "TLSTUDIO_SETTINGS_DIR": str(tmp_path / "window-settings"), "TLSTUDIO_DATA_DIR": str(tmp_path / "data"),
           "TLSTUDIO_CACHE_DIR": str(tmp_path / "cache")}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(DRIVER), str(tiny_spec.root), str(root), str(info), str(EPOCHS)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    run_folder = root / "runs" / "001"
    try:
        deadline = time.monotonic() + 600
        while (checkpoint := _stage2_checkpoint(run_folder)) is None:
            assert proc.poll() is None, f"the window exited ({proc.returncode}):\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        pids = json.loads(info.read_text())
        assert pids["window"] == proc.pid
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert checkpoint.global_epoch < FREEZE_EPOCHS + EPOCHS - 1  # killed amid stage 2, not after it

    # The engine process sees its window gone and exits: no orphan goes on training unseen.
    deadline = time.monotonic() + 60
    while not _gone(pids["engine"]):
        assert time.monotonic() < deadline, f"engine process {pids['engine']} outlived its window"
        time.sleep(0.1)

    [record] = list_runs(root)  # the project opens without error
    assert record.state == "interrupted" and not record.live

    window = make_window()
    offered = []
    window.projects.offer_resume = lambda rec: offered.append(rec.number) or True
    assert window.projects.open_project(root)
    page = window.pages["train"]
    qtbot.waitUntil(lambda: bool(offered) and page.is_training(), timeout=120_000)
    assert offered == [1] and window.current_page_key() == "train"
    qtbot.waitUntil(lambda: not page.is_training() and window.state.training is not None, timeout=RUN_TIMEOUT_MS)

    [record] = list_runs(root)
    assert record.status == "completed" and record.sessions == 2
    assert (record.folder / "model.tlsmodel").is_file() and not (record.folder / "checkpoint").exists()
    assert window.state.project.run == 1 and window.state.training.status == "completed"
    total = FREEZE_EPOCHS + EPOCHS
    assert page.table.rowCount() == total and page.curves.point_counts()["valid_loss"] == total
    assert [page.table.row_values(r)["epoch"] for r in range(total)] == [str(i + 1) for i in range(total)]
    assert 0 < page.epochs_seen < total  # it continued: only the epochs the killed run had not finished
