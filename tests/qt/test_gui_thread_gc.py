"""With a window open, reference cycles are collected on the GUI thread, never on a worker
(qt/gui_thread_gc.py): a Qt object freed by a collection on a worker thread crashes or deadlocks."""
from __future__ import annotations

import gc
import threading


def test_a_cycle_made_garbage_is_collected_on_the_gui_thread_not_by_a_worker_that_allocates(main_window, qtbot):
    collected_on_main = []

    class Cycle:
        def __init__(self):
            self.me = self

        def __del__(self):
            collected_on_main.append(threading.current_thread() is threading.main_thread())

    Cycle()  # unreachable now; only a collection frees it
    kept = []

    def allocate():  # like a job's result being unpickled: many tracked objects at once
        kept.extend([] for _ in range(50_000))

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    assert collected_on_main == []  # far past the threshold, yet nothing was collected there
    qtbot.waitUntil(lambda: collected_on_main == [True], timeout=5_000)
    kept.clear()


def test_collection_is_handed_back_to_python_for_work_without_an_event_loop(qtbot):
    from tlstudio.qt.gui_thread_gc import collect_anywhere_again, collect_on_gui_thread

    collect_on_gui_thread()
    assert not gc.isenabled()
    collect_anywhere_again()
    assert gc.isenabled()
