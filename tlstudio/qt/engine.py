"""The window's one engine process, and tasks that run a job in it.

Pages build a job (`tlstudio.core.jobs`), start `engine_task(job)` in a TaskSlot and draw the
plain result; the window's process never imports torch or fastai. The host starts when a page
that will need it is shown with a dataset (so its imports are done before Start) and ends when
the window closes.
"""
from __future__ import annotations

import threading

from tlstudio.core.jobs.host import EngineHost

_host: EngineHost | None = None
_lock = threading.Lock()


def host() -> EngineHost:
    global _host
    with _lock:
        if _host is None:
            _host = EngineHost(shared=True)
        return _host


def prestart() -> int | None:
    """Have the engine process running (imports done) before its first job; its pid."""
    return host().start()


def shutdown() -> None:
    """End the engine process at once (the window is closing); the next job starts a new one."""
    with _lock:
        current = _host
    if current is not None:
        current.stop()


def engine_task(job):
    """A TaskSlot function that runs `job` in the engine process with the slot's reporter."""
    return lambda reporter: host().run(job, reporter)
