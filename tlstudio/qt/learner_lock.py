"""One worker at a time on a trained fastai Learner.

A Learner is not thread-safe: `get_preds`, `export` and `fit` each swap its
DataLoader, callbacks and training mode. Work that pages run on the shared
trained learner from worker threads takes that learner's lock first, and
stays cancellable while it waits.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

from tlstudio.core.events import Cancelled

_guard = threading.Lock()
_locks: dict[int, threading.Lock] = {}


def _lock_for(learn) -> threading.Lock:
    with _guard:
        return _locks.setdefault(id(learn), threading.Lock())


@contextmanager
def using_learner(learn, reporter):
    """Hold `learn` for the block; raises Cancelled if the reporter asks to stop while waiting."""
    lock = _lock_for(learn)
    while not lock.acquire(timeout=0.05):
        if reporter.cancel_requested():
            raise Cancelled("cancelled while waiting for the model to be free")
    try:
        yield learn
    finally:
        lock.release()
