"""Cyclic garbage is collected on the GUI thread only.

Python runs a collection in whichever thread happens to allocate past the
threshold. In the window that is often a worker (a job's result being
unpickled), and a reference cycle holding a Qt wrapper (a closed dialog, a
lambda connected to a widget) then runs its C++ destructor there: Qt objects
must die on their own thread, and doing it elsewhere crashes or deadlocks
(seen: ~QMenu on a worker waiting for the GIL while the GUI thread, holding it,
waited for that QObject's mutex). pyqtgraph's GarbageCollector turns automatic
collection off and collects from a timer on the GUI thread instead, with the
same generation thresholds. Reference counting, which frees almost everything,
is untouched.
"""
from __future__ import annotations

import gc

from pyqtgraph.util.garbage_collector import GarbageCollector

INTERVAL_S = 0.5  # a pass over the young generation is well under a millisecond

_collector: GarbageCollector | None = None


def collect_on_gui_thread() -> None:
    """Call on the GUI thread once a QApplication exists; later calls do nothing."""
    global _collector
    if _collector is None:
        _collector = GarbageCollector(interval=INTERVAL_S)


def collect_anywhere_again() -> None:
    """Back to Python's own collection, after one full pass here (a process whose windows are
    gone, such as a test run going on to work with no event loop to drive the timer)."""
    global _collector
    if _collector is not None:
        _collector.timer.stop()
        _collector = None
        gc.collect()
        gc.enable()
