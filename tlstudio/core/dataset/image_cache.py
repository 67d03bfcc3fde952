"""Decode once: every image of a dataset decoded and resized a single time into
one memory-mapped uint8 array on disk, so that a batch is an index lookup.

What a row holds is exactly what fastai's item transforms (`loaders.item_tfms`:
`Resize(size, method)` after `loaders.open_image`) give for that item at
validation time, byte for byte: `rows` is N x size x size x 3. A training item
that fastai's Resize crops or pads at a random position (the crop and pad
methods on a non-square image) also gets a strip, the image resized once with
the margin the random position needs (crop: the long side kept, up to
MAX_ASPECT times the short one; pad: the padding on both sides), and a
training batch cuts each such item's window from its strip at a random
position, as Resize does. Resizing before cutting instead of after moves
pixels by less than one and blends across the window's edge: the measured
difference from fastai's own training-time item is in tests/core/test_image_cache.py. Square images and the squish method need no strip:
their training item is their validation item.

The file is keyed by the items (path, byte size, modification time, and
whether the item has a strip), the size and the resize method, and is written
whole to a temporary name and moved into place (atomic_files.py): a file under
a cache name is complete. Each row carries a CRC-32, checked when the file is
opened; a file that fails any check is deleted and built again.

Layout: a PREAMBLE-byte header (magic, then JSON: shapes and offsets), the
rows, the strips, a JSON table (per item: strip index, extent, transposition,
CRC; the files that failed to decode and why), and an end marker with the
table's length and CRC. Nothing in it is ever executed or unpickled.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import struct
import time
import zlib
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tlstudio.core.atomic_files import atomic_write
from tlstudio.core.events import Cancelled, NullReporter, Progress

FORMAT_VERSION = 1
MAGIC = b"TLSIMGC1"
END_MAGIC = b"TLSIMGE1"
PREAMBLE = 4096
SUFFIX = ".tlsimg"
# A crop strip keeps the long side up to this many times the short one; a
# longer image loses the extreme window positions (its centre is kept).
MAX_ASPECT = 2.0
BUILD_TASK = "Decoding images once"
CHECK_TASK = "Checking the image cache"
_END = struct.Struct("<8sQI")  # end marker, table length, table CRC


class CacheCorrupt(Exception):
    """The file under a cache name is not a complete cache of what it is named for."""


def cache_folder() -> Path:
    """Under the app's user cache folder (the one dropped zips are extracted to)."""
    from tlstudio.core.dataset.zip_cache import default_cache_dir

    return default_cache_dir() / "images"


@dataclass(frozen=True)
class CachePlan:
    """What one cache file holds and the name it goes under."""

    paths: tuple[str, ...]
    strips: tuple[tuple[int, bool, int, int] | None, ...]  # per item: strip_geometry, or None
    size: int
    method: str  # "crop" | "pad" | "squish"
    key: str

    @property
    def n_strips(self) -> int:
        return sum(s is not None for s in self.strips)

    @property
    def strip_width(self) -> int:
        return max((s[0] for s in self.strips if s is not None), default=0)

    def nbytes(self) -> int:
        """The size of the file on disk (the table aside)."""
        return PREAMBLE + 3 * self.size * (len(self.paths) * self.size + self.n_strips * self.strip_width)

    def file_name(self) -> str:
        return f"{self.key[:40]}{SUFFIX}"


def strip_geometry(width: int, height: int, size: int, method: str) -> tuple[int, bool, int, int] | None:
    """(extent, transposed, span, cross) of the strip a random training window
    is cut from, or None when fastai's training-time Resize gives the
    validation-time item (square images, squish).

    The strip's free axis (the one the window moves along) is its width, so a
    portrait image for crop, or a landscape one for pad, is turned first
    (`transposed`, numpy's exact transpose). In the turned original, `cross` is
    the height, which is the side of the square fastai resizes to `size`, and
    `span` is how far that square's start may move along the width (pixels):
    crop moves it over the long side, pad over the padding it adds. The strip
    is the whole turned image (crop: at most MAX_ASPECT times as wide as high;
    pad: reflect-padded by `span` on both sides, as fastai pads) resized by
    size / cross, `extent` pixels wide."""
    if method == "squish" or width == height or width <= 0 or height <= 0:
        return None
    long, short = max(width, height), min(width, height)
    if method == "crop":
        kept = min(long, round(short * MAX_ASPECT))
        span, cross, free = kept - short, short, kept
        transposed = height > width
    else:
        span, cross, free = long - short, long, short + 2 * (long - short)
        transposed = width > height
    extent = int(free * size / cross)
    return extent, transposed, span, cross


def plan_cache(paths, sizes, size: int, method: str, random_train) -> CachePlan:
    """The plan for `paths` (image (width, height) in `sizes`); `random_train`
    per item: True where training reads a random window (training items)."""
    paths = tuple(str(p) for p in paths)
    strips = tuple(strip_geometry(w, h, size, method) if rnd else None
                   for (w, h), rnd in zip(sizes, random_train))
    digest = hashlib.sha256()
    digest.update(json.dumps({"version": FORMAT_VERSION, "size": size, "method": method,
                              "pad_mode": "reflection", "resample": "bilinear"}).encode())
    for path, strip in zip(paths, strips):
        try:
            st = os.stat(path)
            stamp = (st.st_size, st.st_mtime_ns)
        except OSError:
            stamp = (-1, -1)
        digest.update(json.dumps([path, *stamp, strip is not None]).encode("utf-8", "surrogateescape"))
    return CachePlan(paths, strips, size, method, digest.hexdigest())


def item_images(path: str, size: int, method: str, strip):
    """(row, strip or None) for one file, as uint8 HWC arrays: the row through
    fastai's own Resize at validation time, from `loaders.open_image` (which
    records and raises SkipItemException for a file that no longer decodes)."""
    from fastai.vision.augment import Resize
    from PIL import Image

    from tlstudio.core.dataset.loaders import RESIZE_METHODS, open_image

    image = open_image(path)
    row = np.asarray(Resize(size, method=RESIZE_METHODS[method])(image, split_idx=1))
    if strip is None:
        return row, None
    extent, transposed, span, cross = strip
    if transposed:
        image = image.transpose(Image.Transpose.TRANSPOSE)
    w, h = image.size
    if method == "crop" and w > cross + span:  # longer than MAX_ASPECT: its centre is kept
        left = (w - cross - span) // 2
        image = image.crop((left, 0, left + cross + span, h))
    elif method == "pad":  # as fastai pads: reflection, mirrored about the edge pixels
        image = Image.fromarray(np.pad(np.asarray(image), ((0, 0), (span, span), (0, 0)), mode="reflect"))
    # The box keeps the scale exactly size / cross on both axes (extent is rounded down).
    return row, np.asarray(image.resize((extent, size), Image.BILINEAR, box=(0, 0, extent * cross / size, h)))


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def build(plan: CachePlan, folder: Path, reporter=None) -> Path:
    """Decode and resize every item of `plan` (in threads: PIL releases the GIL
    while it decodes and resizes) into `folder / plan.file_name()`, atomically.
    Raises `Cancelled` when the reporter asks to stop; nothing is left then."""
    from fastai.data.load import SkipItemException

    reporter = reporter or NullReporter()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / plan.file_name()
    n, s, m, w = len(plan.paths), plan.size, plan.n_strips, plan.strip_width
    strip_index = np.full(n, -1, dtype=np.int64)
    strip_index[[i for i, g in enumerate(plan.strips) if g is not None]] = np.arange(m)
    header = {"version": FORMAT_VERSION, "key": plan.key, "n": n, "size": s, "method": plan.method,
              "n_strips": m, "strip_width": w}

    def write(tmp: Path) -> None:
        rows_at = PREAMBLE
        strips_at = rows_at + n * s * s * 3
        table_at = strips_at + m * s * w * 3
        with open(tmp, "wb") as f:
            f.write(_preamble(dict(header, rows_at=rows_at, strips_at=strips_at, table_at=table_at)))
            f.truncate(table_at)
        rows = np.memmap(tmp, np.uint8, "r+", rows_at, (n, s, s, 3)) if n else np.zeros((0, s, s, 3), np.uint8)
        strips = np.memmap(tmp, np.uint8, "r+", strips_at, (m, s, w, 3)) if m else None
        crcs, failed = [0] * n, {}

        def one(i: int) -> None:
            try:
                row, strip = item_images(plan.paths[i], s, plan.method, plan.strips[i])
            except SkipItemException as exc:
                failed[plan.paths[i]] = str(exc)
                return
            rows[i] = row
            crc = zlib.crc32(rows[i])
            if strip is not None:
                k = strip_index[i]
                strips[k, :, : strip.shape[1]] = strip
                crc = zlib.crc32(strips[k], crc)
            crcs[i] = crc

        _run_all(one, n, reporter, tmp)
        for array in (rows, strips):
            if isinstance(array, np.memmap):
                array.flush()
        rows = strips = None  # the maps are closed before the table is written
        table = json.dumps({"strip": strip_index.tolist(), "geometry": [list(g) if g else None for g in plan.strips],
                            "crc": crcs, "failed": failed, "paths": list(plan.paths)}).encode("utf-8", "surrogateescape")
        with open(tmp, "r+b") as f:
            f.seek(table_at)
            f.write(table)
            f.write(_END.pack(END_MAGIC, len(table), zlib.crc32(table)))
            f.flush()
            os.fsync(f.fileno())

    atomic_write(target, write)
    return target


def _run_all(one, n: int, reporter, tmp: Path) -> None:
    """`one(i)` for every item on a thread pool, with progress; on a cancel the
    pool stops taking new items and `Cancelled` is raised."""
    done, next_i, last_touch = 0, 0, time.monotonic()
    step = max(1, n // 100)
    with ThreadPoolExecutor(_workers(), thread_name_prefix="image-cache") as pool:
        pending = set()
        try:
            while done < n:
                while next_i < n and len(pending) < 4 * _workers():
                    pending.add(pool.submit(one, next_i))
                    next_i += 1
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()
                before, done = done, done + len(finished)
                if done == n or done // step > before // step:  # about 100 events, whatever the size
                    reporter.emit(Progress(BUILD_TASK, done, n))
                if reporter.cancel_requested():
                    raise Cancelled()
                if time.monotonic() - last_touch > 60:  # a long build's temp file is not stale
                    os.utime(tmp)
                    last_touch = time.monotonic()
        finally:
            for future in pending:
                future.cancel()


def _preamble(header: dict) -> bytes:
    body = json.dumps(header).encode()
    if len(MAGIC) + 4 + len(body) > PREAMBLE:
        raise ValueError("image cache header too long")
    return (MAGIC + struct.pack("<I", len(body)) + body).ljust(PREAMBLE, b"\0")


class ImageCache:
    """An opened, checked cache file: rows and strips as read-only memory maps."""

    def __init__(self, path: Path, plan: CachePlan | None = None, reporter=None):
        self.path = Path(path)
        self._open(plan, reporter or NullReporter())

    def _open(self, plan, reporter) -> None:
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as f:
                head = f.read(PREAMBLE)
                if len(head) < PREAMBLE or head[:8] != MAGIC:
                    raise CacheCorrupt("no cache header")
                (length,) = struct.unpack("<I", head[8:12])
                h = json.loads(head[12: 12 + length])
                if h.get("version") != FORMAT_VERSION or (plan is not None and h.get("key") != plan.key):
                    raise CacheCorrupt("made for other images or by another version")
                f.seek(size - _END.size)
                magic, table_len, table_crc = _END.unpack(f.read(_END.size))
                if magic != END_MAGIC or h["table_at"] + table_len + _END.size != size:
                    raise CacheCorrupt("cut short")
                f.seek(h["table_at"])
                raw = f.read(table_len)
                if zlib.crc32(raw) != table_crc:
                    raise CacheCorrupt("damaged table")
            table = json.loads(raw.decode("utf-8", "surrogateescape"))
        except (OSError, ValueError, KeyError, struct.error) as exc:
            raise CacheCorrupt(f"unreadable ({exc})") from None
        n, s, m, w = h["n"], h["size"], h["n_strips"], h["strip_width"]
        self.size, self.method, self.key = s, h["method"], h["key"]
        self.paths = table["paths"]
        self.rows = np.memmap(self.path, np.uint8, "r", h["rows_at"], (n, s, s, 3)) if n else np.zeros((0, s, s, 3), np.uint8)
        self.strips = np.memmap(self.path, np.uint8, "r", h["strips_at"], (m, s, w, 3)) if m else None
        self.strip_of = np.asarray(table["strip"], dtype=np.int64)
        self.geometry = [tuple(g) if g else None for g in table["geometry"]]
        self.failed: dict[str, str] = table["failed"]
        self._verify(table["crc"], reporter)
        self.row_of = {p: i for i, p in enumerate(self.paths) if p not in self.failed}

    def _verify(self, crcs, reporter) -> None:
        """Every row's CRC; progress only once the check has taken a while
        (a small cache is checked in a blink and needs no progress bar)."""
        n = len(self.paths)
        failed = set(self.failed)
        quiet_until = time.monotonic() + 0.5
        for i in range(n):
            if self.paths[i] in failed:
                continue
            crc = zlib.crc32(self.rows[i])
            if self.strip_of[i] >= 0:
                crc = zlib.crc32(self.strips[self.strip_of[i]], crc)
            if crc != crcs[i]:
                raise CacheCorrupt(f"row {i} is damaged")
            if i % 256 == 255 or i == n - 1:
                if reporter.cancel_requested():
                    raise Cancelled()
                if time.monotonic() > quiet_until:
                    reporter.emit(Progress(CHECK_TASK, i + 1, n))

    @property
    def nbytes(self) -> int:
        return self.path.stat().st_size

    def rows_for(self, paths) -> np.ndarray | None:
        """Row indices of `paths`, or None when the cache lacks any of them."""
        get = self.row_of.get
        rows = [get(str(p), -1) for p in paths]
        if not rows or min(rows) < 0:
            return None
        return np.asarray(rows, dtype=np.int64)

    def batch(self, rows: np.ndarray, *, train: bool, rng=random) -> np.ndarray:
        """B x size x size x 3 uint8 for `rows`. With `train`, an item with a
        strip gets a window at a random position. Every training item takes
        the two draws from `rng` that fastai's Resize takes for its crop
        position (none for squish), strip or not, so that every later random
        choice of a run (augmentation, dropout) is the one today's pipeline
        makes with the same seed."""
        out = self.rows[np.asarray(rows)]
        if train and self.method != "squish":
            for j, r in enumerate(rows):
                pcts = (rng.random(), rng.random())
                if self.strip_of[r] >= 0:
                    out[j] = self.window(int(r), pcts)
        return out

    def window(self, row: int, pcts: tuple[float, float]) -> np.ndarray:
        """The training-time item of `row` for fastai's crop position `pcts`
        (x, y): the square fastai would resize starts where Resize puts it, in
        the original's pixels, and is cut from the strip at that place."""
        extent, transposed, span, cross = self.geometry[row]
        pct = pcts[1] if transposed else pcts[0]
        start = int(pct * span) if self.method == "crop" else span - int(pct * span)
        off = min(round(start * self.size / cross), extent - self.size)
        item = self.strips[self.strip_of[row], :, off: off + self.size]
        return item.transpose(1, 0, 2) if transposed else item


    # Opened again by path in another process (the memory maps do not pickle cheaply).
    def __getstate__(self):
        return {"path": str(self.path)}

    def __setstate__(self, state):
        self.path = Path(state["path"])
        self._open(None, NullReporter())


def open_or_build(plan: CachePlan, folder: Path, reporter=None) -> ImageCache:
    """The cache for `plan`: the existing file when it checks out, else built
    (again: a damaged file is deleted first, it is only ever a copy)."""
    reporter = reporter or NullReporter()
    path = folder / plan.file_name()
    if path.exists():
        try:
            cache = ImageCache(path, plan, reporter)
            os.utime(path)  # recently used: kept when older caches make room
            return cache
        except CacheCorrupt:
            path.unlink(missing_ok=True)
    build(plan, folder, reporter)
    return ImageCache(path, plan, reporter)
