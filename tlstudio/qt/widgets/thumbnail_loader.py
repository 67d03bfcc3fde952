"""Decode thumbnails on a thread pool, newest screen only, into a bounded LRU cache.

Qt's image readers decode straight to a scaled size (JPEG even decodes at a
reduced resolution), so a worker thread hands back a small QImage; the GUI
thread turns it into a QPixmap. Requests wait in one queue that a few pool
workers drain, handing results back in small batches: the GUI thread then
wakes a few times per screen, not once per image, which keeps it responsive
while the workers hold the GIL. Requests the user has scrolled away from are
dropped from the queue before they are decoded.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThread, QThreadPool, QTimer, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap

BATCH_SECONDS = 0.03  # a worker hands its results over at least this often


class _Signals(QObject):
    done = Signal(object)  # [(generation, key, QImage)]; a null image when the file could not be decoded


class _RequestQueue:
    """The requests still wanted, shared by the GUI thread and the workers."""

    def __init__(self, max_workers: int):
        self.lock = threading.Lock()
        self.items: deque[tuple[int, int, str]] = deque()  # (generation, key, path)
        self.workers = 0
        self.max_workers = max_workers

    def push(self, item: tuple[int, int, str]) -> None:
        with self.lock:
            self.items.append(item)

    def claim_workers(self) -> int:
        """How many more workers the queued requests need; the caller starts that many."""
        with self.lock:
            n = max(0, min(self.max_workers - self.workers, len(self.items)))
            self.workers += n
            return n

    def pop(self) -> tuple[int, int, str] | None:
        """The next request, or None: the calling worker then ends."""
        with self.lock:
            if self.items:
                return self.items.popleft()
            self.workers -= 1
            return None

    def keep(self, keys: set[int]) -> list[int]:
        """Drop queued requests whose key is not in `keys`; returns the dropped keys."""
        with self.lock:
            dropped = [k for _, k, _ in self.items if k not in keys]
            if dropped:
                self.items = deque(item for item in self.items if item[1] in keys)
            return dropped


class _Worker(QRunnable):
    def __init__(self, queue: _RequestQueue, size: QSize, signals: _Signals):
        super().__init__()
        self.queue, self.size, self.signals = queue, size, signals

    def run(self) -> None:  # pool thread
        batch, last = [], time.monotonic()
        while (item := self.queue.pop()) is not None:
            generation, key, path = item
            batch.append((generation, key, decode_thumbnail(path, self.size)))
            if time.monotonic() - last > BATCH_SECONDS:
                self.signals.done.emit(batch)
                batch, last = [], time.monotonic()
        if batch:
            self.signals.done.emit(batch)


def decode_thumbnail(path: str, box: QSize) -> QImage:
    """The image at `path` scaled to fit `box`, or a null QImage if it cannot be read."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    full = reader.size()
    if full.isValid() and not full.isEmpty():
        reader.setScaledSize(full.scaled(box, Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


class PixmapCache:
    """Least-recently-used pixmaps, bounded by total bytes."""

    def __init__(self, max_bytes: int = 96 * 1024 * 1024):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[int, tuple[QPixmap, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: int) -> bool:
        return key in self._items

    def get(self, key: int) -> QPixmap | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        self._items.move_to_end(key)
        return entry[0]

    def put(self, key: int, pixmap: QPixmap) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        size = _nbytes(pixmap)
        self._items[key] = (pixmap, size)
        self.bytes += size
        while self.bytes > self.max_bytes and len(self._items) > 1:
            _, (_, evicted) = self._items.popitem(last=False)
            self.bytes -= evicted

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


def _nbytes(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * max(1, pixmap.depth() // 8)


class ThumbnailLoader(QObject):
    """Requests keyed by an int (the item's index); `ready` delivers decoded images in batches.

    Each requested key is delivered once (unless dropped by `retain` or `reset`).
    """

    ready = Signal(object)  # [(key, QImage)]

    def __init__(self, size: QSize, parent: QObject | None = None, max_threads: int | None = None):
        super().__init__(parent)
        self.size = QSize(size)
        # Leave a core to the GUI thread: a decoding worker holds the GIL while Qt reads the file.
        workers = max_threads or max(1, min(4, QThread.idealThreadCount() - 1))
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(workers)
        self._queue = _RequestQueue(workers)
        self._signals = _Signals(self)
        self._signals.done.connect(self._done)
        self._pending: set[int] = set()  # keys requested and not delivered yet
        self._generation = 0
        # Workers start once per event-loop pass, after a paint has asked for all its rows.
        self._kick = QTimer(self, singleShot=True, interval=0)
        self._kick.timeout.connect(self._start_workers)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def request(self, key: int, path: str) -> None:
        if key in self._pending:
            return
        self._pending.add(key)
        self._queue.push((self._generation, key, path))
        if not self._kick.isActive():
            self._kick.start()

    def _start_workers(self) -> None:
        for _ in range(self._queue.claim_workers()):
            self._pool.start(_Worker(self._queue, self.size, self._signals))

    def retain(self, keys: set[int]) -> None:
        """Drop every queued request whose key is not in `keys` (those already decoding still arrive)."""
        self._pending.difference_update(self._queue.keep(keys))

    def reset(self) -> None:
        """Forget every request: keys now mean other items, so late results are dropped."""
        self._queue.keep(set())
        self._pending.clear()
        self._generation += 1

    def shutdown(self) -> None:
        self._kick.stop()
        self.reset()
        self._pool.waitForDone()

    def _done(self, batch) -> None:
        fresh = [(key, image) for generation, key, image in batch if generation == self._generation and key in self._pending]
        self._pending.difference_update(key for key, _ in fresh)
        if fresh:
            self.ready.emit(fresh)
