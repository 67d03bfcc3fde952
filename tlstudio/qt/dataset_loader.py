"""Open a dataset off the GUI thread: scan with progress, cancel, and a clear error.

The previous dataset stays in AppState until a scan succeeds, so a cancelled
or failed scan never loses what the user had.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal

from tlstudio.core.events import Progress
from tlstudio.qt.workers import TaskSlot


def _scan(path: Path, reporter, **options):
    from tlstudio.core.dataset.scan import scan  # the engine may pull in PIL and friends: load it in the worker

    return scan(path, reporter=reporter, **options)


class DatasetLoader(QObject):
    started = Signal(str)  # path
    progress = Signal(int, int, str)  # done, total (0: unknown), message
    loaded = Signal(object)  # DatasetSpec
    failed = Signal(str, str)  # path, message
    cancelled = Signal(str)  # path
    running_changed = Signal(bool)

    def __init__(self, scan_fn: Callable | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._scan_fn = scan_fn or _scan
        self._slot = TaskSlot(self)
        self._slot.running_changed.connect(self.running_changed)
        self.path: Path | None = None
        self._cancel_requested = False

    def load(self, path: str | Path, **options) -> None:
        """Scan `path`; `options` go to `core.dataset.scan` (valid_pct, seed)."""
        path = Path(path).expanduser()
        self.path = path
        self._cancel_requested = False
        scan_fn = self._scan_fn
        self.started.emit(str(path))
        self._slot.start(
            lambda reporter: scan_fn(path, reporter, **options),
            name="scan-dataset",
            on_event=self._on_event,
            on_success=self._on_success,
            on_failure=lambda message: self.failed.emit(str(path), message),
            on_cancel=lambda: self.cancelled.emit(str(path)),
        )

    def is_running(self) -> bool:
        """True until the scan's outcome has been delivered: once it reads False,
        `state.dataset` is the new dataset (or the scan failed or was cancelled)."""
        return not self._slot.is_settled()

    def cancel(self) -> None:
        """Stop the scan; `cancelled` follows once the worker has noticed."""
        self._cancel_requested = True
        self._slot.request_cancel()

    def shutdown(self) -> None:
        task = self._slot.task
        self._slot.cancel()
        if task is not None:
            task.wait(10_000)

    def _on_success(self, spec) -> None:
        # A scan that finished just as the user pressed Cancel still counts as cancelled.
        if self._cancel_requested:
            self.cancelled.emit(str(self.path))
        else:
            self.loaded.emit(spec)

    def _on_event(self, event: object) -> None:
        if isinstance(event, Progress):
            self.progress.emit(event.done, event.total, event.message or event.task)
