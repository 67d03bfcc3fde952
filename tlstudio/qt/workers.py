"""Run engine calls off the GUI thread; engine events become Qt signals.

The engine only knows the reporter protocol (`emit`, `cancel_requested`), so a
task is `fn(reporter) -> result`. Cancelling only sets a flag that the engine
checks; the thread is never killed. Every live task is tracked so the window
(and the tests) can cancel and wait for all of them at shutdown.
"""
from __future__ import annotations

import logging
import threading
import traceback
import warnings
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal

from tlstudio.core.errors import UserFacingError
from tlstudio.core.events import Cancelled

log = logging.getLogger(__name__)


class QtReporter:
    """The engine-side reporter: emits events through a Qt signal, thread-safe."""

    def __init__(self, signal) -> None:
        self._signal = signal
        self._cancel = threading.Event()

    def emit(self, event: object) -> None:
        self._signal.emit(event)

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()


class EngineTask(QThread):
    """Runs `fn(reporter)` in its own thread.

    Exactly one of `succeeded(result)`, `failed(message)` or `cancelled()` is
    emitted at the end, always after every `event(obj)` the task emitted.
    """

    event = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    _live: set["EngineTask"] = set()

    def __init__(self, fn: Callable[[QtReporter], object], name: str = "task", parent: QObject | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self._fn = fn
        self.reporter = QtReporter(self.event)
        EngineTask._live.add(self)
        self.finished.connect(self._forget)

    def run(self) -> None:  # worker thread
        try:
            result = self._fn(self.reporter)
        except Cancelled:
            self.cancelled.emit()
        except UserFacingError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # a bug or an unexpected library error: keep the app alive
            log.error("%s failed:\n%s", self.objectName(), traceback.format_exc())
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            if self.reporter.cancel_requested() and result is None:
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)

    def cancel(self) -> None:
        self.reporter.cancel()

    def _forget(self) -> None:
        EngineTask._live.discard(self)

    @classmethod
    def live_tasks(cls) -> list["EngineTask"]:
        return [t for t in cls._live if t.isRunning()]

    @classmethod
    def shutdown_all(cls, timeout_ms: int = 30_000) -> bool:
        """Cancel every running task and wait for it. True when all stopped."""
        tasks = cls.live_tasks()
        for t in tasks:
            t.cancel()
        return all(t.wait(timeout_ms) for t in tasks)


class TaskSlot(QObject):
    """One task at a time for a page: starting a new one cancels the old one.

    Signals of a superseded task are disconnected, so a late result can never
    overwrite the newer one's.
    """

    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.task: EngineTask | None = None

    def start(
        self,
        fn: Callable[[QtReporter], object],
        *,
        name: str = "task",
        on_event: Callable[[object], None] | None = None,
        on_success: Callable[[object], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
    ) -> EngineTask:
        self.cancel()
        task = EngineTask(fn, name=name)
        if on_event:
            task.event.connect(on_event)
        if on_success:
            task.succeeded.connect(on_success)
        if on_failure:
            task.failed.connect(on_failure)
        if on_cancel:
            task.cancelled.connect(on_cancel)
        task.finished.connect(lambda t=task: self._finished(t))
        self.task = task
        task.start()
        self.running_changed.emit(True)
        return task

    def is_running(self) -> bool:
        """The task's thread is still working (its final signal may still be on the way)."""
        return self.task is not None and self.task.isRunning()

    def is_settled(self) -> bool:
        """No task, or its final signal has been handled on the GUI thread.

        Stricter than `not is_running()`: the thread ends before its result
        reaches the GUI thread. A handler of that very result still reads
        unsettled; code asked from inside one keeps its own flag, cleared
        first thing in the handler (RunSaver)."""
        return self.task is None

    def cancel(self) -> None:
        old = self.task
        if old is None:
            return
        old.cancel()
        with warnings.catch_warnings():
            # PySide warns when a signal had no connection; that is fine here.
            warnings.simplefilter("ignore", RuntimeWarning)
            for sig in (old.event, old.succeeded, old.failed, old.cancelled):
                try:
                    sig.disconnect()
                except (RuntimeError, TypeError):
                    pass
        self.task = None
        self.running_changed.emit(False)

    def request_cancel(self) -> None:
        """Ask the running task to stop but still deliver its final signal."""
        if self.task is not None:
            self.task.cancel()

    def stop_and_wait(self, timeout_ms: int = 60_000) -> bool:
        """Ask the running task to stop and wait for it (window closing).

        Its final signal still arrives, so a page can keep a cancelled run's
        usable result. True when nothing is left running."""
        task = self.task
        if task is None:
            return True
        task.cancel()
        return task.wait(timeout_ms)

    def _finished(self, task: EngineTask) -> None:
        if task is self.task:
            self.task = None
            self.running_changed.emit(False)
        task.deleteLater()
