"""Shared test setup: headless Qt, no network, isolated settings, no leaked threads."""
from __future__ import annotations

import atexit
import multiprocessing
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep torch from competing with itself on small CI machines.
os.environ.setdefault("OMP_NUM_THREADS", "2")
# The app's data folder (the record of exported models) for the whole session,
# never the user's own; module-scoped fixtures export before any per-test fixture runs.
os.environ["TLSTUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="tlstudio-data-")
atexit.register(shutil.rmtree, os.environ["TLSTUDIO_DATA_DIR"], ignore_errors=True)
# The user cache folder (extracted zips, decode-once image caches), never the user's own.
os.environ["TLSTUDIO_CACHE_DIR"] = tempfile.mkdtemp(prefix="tlstudio-cache-")
atexit.register(shutil.rmtree, os.environ["TLSTUDIO_CACHE_DIR"], ignore_errors=True)

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "resources" / "demo"
ARTIFACTS = REPO / "test-artifacts"  # screenshots the tests write, for people to look at


class _NoNetwork(socket.socket):
    def connect(self, address):  # noqa: D401
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1")) or not isinstance(address, tuple):
            return super().connect(address)
        raise OSError(f"tests must not use the network (tried {address!r})")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    """The session's engine process, started by an earlier test, takes this test's environment
    (its settings, hub cache and data folders) before the test's body runs."""
    import train_targets

    train_targets.engine_follows_this_test()


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    monkeypatch.setattr(socket, "socket", _NoNetwork)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory, monkeypatch):
    """Every test gets fresh QSettings and its own torch-hub cache folder."""
    home = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("TLSTUDIO_SETTINGS_DIR", str(home))
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    try:
        from PySide6.QtCore import QSettings
    except ImportError:
        yield
        return
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home))
    yield


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail any test that leaves a Python or Qt worker thread, or a child process, running."""
    before = set(threading.enumerate())
    yield
    try:
        from tlstudio.qt.workers import EngineTask
    except ImportError:
        EngineTask = None
    if EngineTask is not None:
        live = EngineTask.live_tasks()
        if live:
            EngineTask.shutdown_all(10_000)
            pytest.fail(f"test left engine tasks running: {[t.objectName() for t in live]}")
    leaked = [
        t for t in set(threading.enumerate()) - before
        if t.is_alive() and not t.daemon and not t.name.startswith(("pydevd", "QDBus"))
    ]
    for t in leaked:
        t.join(5)
    leaked = [t for t in leaked if t.is_alive()]
    if leaked:
        pytest.fail(f"test left threads running: {[t.name for t in leaked]}")
    # An engine process kept on purpose between tests (the window's, a module's fixture) is no leak.
    from tlstudio.core.jobs.host import shared_pids

    children = [c for c in multiprocessing.active_children() if c.pid not in shared_pids()]
    for child in children:
        child.terminate()
        child.join(5)
    if children:
        pytest.fail(f"test left child processes running: {[c.name for c in children]}")


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return DEMO


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


from fixtures_engine import *  # noqa: E402,F401,F403  (tiny_spec, trained_result, ...)
