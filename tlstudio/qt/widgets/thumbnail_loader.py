"""Decode thumbnails on a thread pool, newest requests only, into a bounded LRU cache.

Qt's image readers decode straight to a scaled size (JPEG even decodes at a
reduced resolution), so a worker thread hands back a small QImage; the GUI
thread turns it into a QPixmap. Requests the user has scrolled away from are
taken back from the pool's queue before they ever start.
"""
from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThread, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap


class _Signals(QObject):
    done = Signal(int, QImage)  # job id, image (null when the file could not be decoded)


class _Decode(QRunnable):
    def __init__(self, job_id: int, key: int, path: str, size: QSize, signals: _Signals):
        super().__init__()
        self.setAutoDelete(False)  # the loader owns it, so it can be taken back from the queue
        self.job_id, self.key, self.path, self.size, self.signals = job_id, key, path, size, signals

    def run(self) -> None:  # pool thread
        self.signals.done.emit(self.job_id, decode_thumbnail(self.path, self.size))


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
        self._items: OrderedDict[int, QPixmap] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: int) -> bool:
        return key in self._items

    def get(self, key: int) -> QPixmap | None:
        pixmap = self._items.get(key)
        if pixmap is not None:
            self._items.move_to_end(key)
        return pixmap

    def put(self, key: int, pixmap: QPixmap) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= _nbytes(old)
        self._items[key] = pixmap
        self.bytes += _nbytes(pixmap)
        while self.bytes > self.max_bytes and len(self._items) > 1:
            _, evicted = self._items.popitem(last=False)
            self.bytes -= _nbytes(evicted)

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


def _nbytes(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * max(1, pixmap.depth() // 8)


class ThumbnailLoader(QObject):
    """Requests keyed by an int (the item's index); `ready` delivers each decoded image once."""

    ready = Signal(int, QImage)

    def __init__(self, size: QSize, parent: QObject | None = None, max_threads: int | None = None):
        super().__init__(parent)
        self.size = QSize(size)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads or max(2, min(4, QThread.idealThreadCount())))
        self._signals = _Signals(self)
        self._signals.done.connect(self._done)
        self._jobs: dict[int, _Decode] = {}  # every job the pool may still touch, kept alive here
        self._pending: dict[int, _Decode] = {}  # key -> job whose result is still wanted
        self._next_id = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def request(self, key: int, path: str) -> None:
        if key in self._pending:
            return
        self._next_id += 1
        job = _Decode(self._next_id, key, path, self.size, self._signals)
        self._jobs[job.job_id] = job
        self._pending[key] = job
        self._pool.start(job)

    def retain(self, keys: set[int]) -> None:
        """Take back every queued request whose key is not in `keys`."""
        for key in [k for k in self._pending if k not in keys]:
            job = self._pending[key]
            if self._pool.tryTake(job):
                del self._pending[key]
                del self._jobs[job.job_id]

    def reset(self) -> None:
        """Forget every request: keys now mean other items, so late results are dropped."""
        self.retain(set())
        self._pending.clear()

    def shutdown(self) -> None:
        self.reset()
        self._pool.waitForDone()
        self._jobs.clear()

    def _done(self, job_id: int, image: QImage) -> None:
        job = self._jobs.pop(job_id, None)
        if job is not None and self._pending.get(job.key) is job:
            del self._pending[job.key]
            self.ready.emit(job.key, image)
