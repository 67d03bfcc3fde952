"""The quick pass: decode every image once and keep what the checks need.

Per image: a digest of the decoded pixels (RGB, with the size), a 64-bit
perceptual hash (`imagehash.phash`), a small grayscale thumbnail for
comparing candidate near duplicates, brightness figures and the file's mode
and size. Large sets are read by a pool of processes (decoding and hashing
hold the GIL); the pool is spawned, not forked, because the window runs
threads.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tlstudio.core.events import Cancelled, Progress, Reporter

TASK = "Reading pixels"
THUMB = 32  # thumbnail side in pixels
_CHUNK = 500  # images per progress event and per pool task
_POOL_FROM = 4000  # below this many images one process is quicker than starting a pool


@dataclass
class PixelFacts:
    """One row per image, in the order of the paths given."""

    digests: list[bytes | None]  # None: the file did not decode
    phash: np.ndarray  # uint64
    thumbs: np.ndarray  # uint8 (n, THUMB, THUMB), grayscale, squished to a square
    mean: np.ndarray  # float32, mean gray level 0..255
    std: np.ndarray  # float32, spread of gray levels
    p99: np.ndarray  # float32, 99th percentile gray level
    sizes: list[tuple[int, int]]  # (width, height) as decoded
    modes: list[str]  # PIL mode of the file
    errors: list[str]  # one per image, "" when it decoded


def _read_one(path: str):
    import imagehash
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        mode, size = im.mode, im.size
        rgb = im.convert("RGB")
    digest = hashlib.blake2b(f"{size[0]}x{size[1]}".encode() + rgb.tobytes(), digest_size=16).digest()
    gray = rgb.convert("L")
    bits = np.asarray(imagehash.phash(gray).hash, dtype=bool).ravel()
    ph = int.from_bytes(np.packbits(bits).tobytes(), "big")
    thumb = np.asarray(gray.resize((THUMB, THUMB), Image.BILINEAR), dtype=np.uint8)
    return digest, ph, thumb, mode, size


def read_chunk(paths: list[str]):
    """Facts for `paths`, as plain lists and arrays (picklable for the pool)."""
    digests, hashes, thumbs, modes, sizes, errors = [], [], [], [], [], []
    blank = np.zeros((THUMB, THUMB), np.uint8)
    for p in paths:
        try:
            digest, ph, thumb, mode, size = _read_one(p)
            error = ""
        except Exception as exc:  # PIL raises many types for broken files
            digest, ph, thumb, mode, size, error = None, 0, blank, "", (0, 0), f"{type(exc).__name__}: {exc}"
        digests.append(digest)
        hashes.append(ph)
        thumbs.append(thumb)
        modes.append(mode)
        sizes.append(size)
        errors.append(error)
    return digests, np.array(hashes, dtype=np.uint64), np.stack(thumbs), modes, sizes, errors


def read_pixels(paths: list[Path], reporter: Reporter, workers: int | None = None) -> PixelFacts:
    """Raises `Cancelled` when the reporter asks to stop (checked per chunk)."""
    names = [str(p) for p in paths]
    chunks = [names[i : i + _CHUNK] for i in range(0, len(names), _CHUNK)]
    workers = workers or min(os.cpu_count() or 1, 8)
    parts: list = []

    def collect(part) -> None:
        parts.append(part)
        if reporter.cancel_requested():
            raise Cancelled()
        reporter.emit(Progress(TASK, min(len(parts) * _CHUNK, len(names)), len(names)))

    reporter.emit(Progress(TASK, 0, len(names)))
    if len(names) < _POOL_FROM or workers == 1:
        for chunk in chunks:
            collect(read_chunk(chunk))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            try:
                for part in pool.map(read_chunk, chunks):
                    collect(part)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    return _join(parts)


def _join(parts: list) -> PixelFacts:
    if not parts:
        empty = np.zeros(0, np.float32)
        return PixelFacts([], np.zeros(0, np.uint64), np.zeros((0, THUMB, THUMB), np.uint8),
                          empty, empty, empty, [], [], [])
    thumbs = np.concatenate([p[2] for p in parts])
    flat = thumbs.reshape(len(thumbs), -1).astype(np.float32)
    return PixelFacts(
        digests=[d for p in parts for d in p[0]],
        phash=np.concatenate([p[1] for p in parts]),
        thumbs=thumbs,
        mean=flat.mean(axis=1),
        std=flat.std(axis=1),
        p99=np.percentile(flat, 99, axis=1).astype(np.float32),
        sizes=[s for p in parts for s in p[4]],
        modes=[m for p in parts for m in p[3]],
        errors=[e for p in parts for e in p[5]],
    )
