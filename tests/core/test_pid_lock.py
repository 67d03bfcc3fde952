"""The one pid lock file: exclusive while held, gone afterwards, taken over from a dead holder,
refused (with the holder named) while a live process holds it."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tlstudio.core.pid_lock import holder, pid_alive, pid_lock


class Busy(Exception):
    pass


def test_held_then_released(tmp_path):
    lock = tmp_path / "x.lock"
    with pid_lock(lock, Busy):
        assert lock.read_text() == str(os.getpid()) and holder(lock) == os.getpid()
        with pytest.raises(Busy) as raised, pid_lock(lock, lambda pid: Busy(f"held by {pid}")):
            pass
        assert str(raised.value) == f"held by {os.getpid()}"
    assert not lock.exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    assert not pid_alive(pid)
    lock = tmp_path / "x.lock"
    lock.write_text(str(pid))
    assert holder(lock) is None
    with pid_lock(lock, Busy):
        assert lock.read_text() == str(os.getpid())
    assert not lock.exists()


def test_a_live_holder_is_refused_and_its_lock_kept(tmp_path):
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = tmp_path / "x.lock"
        lock.write_text(str(alive.pid))
        with pytest.raises(Busy), pid_lock(lock, Busy):
            pass
        assert lock.read_text() == str(alive.pid)
    finally:
        alive.kill()
        alive.wait()
