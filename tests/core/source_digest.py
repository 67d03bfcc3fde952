"""What the bad-input tests assert about the user's data: not one byte changed.

`digest(root)` is a sha256 listing of every file, link and folder under root;
two equal listings mean the folder is byte-identical."""
from __future__ import annotations

import hashlib
import os
import stat
import struct
import zlib
from pathlib import Path

from PIL import Image


def digest(root: Path) -> dict[str, str]:
    """Walked with a stack and directory handles, so folders nested thousands
    deep or past PATH_MAX are listed too (os.walk recurses, and opens by path)."""
    listing = {}
    stack = [(os.open(root, os.O_RDONLY | os.O_DIRECTORY), "")]
    while stack:
        fd, rel = stack.pop()
        try:
            for name in sorted(os.listdir(fd)):
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                key = f"{rel}/{name}" if rel else name
                if stat.S_ISLNK(st.st_mode):
                    listing[key] = "link:" + os.readlink(name, dir_fd=fd)
                elif stat.S_ISDIR(st.st_mode):
                    listing[key] = "folder"
                    stack.append((os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), key))
                else:
                    file_fd = os.open(name, os.O_RDONLY, dir_fd=fd)
                    with os.fdopen(file_fd, "rb") as f:
                        listing[key] = hashlib.sha256(f.read()).hexdigest()
        finally:
            os.close(fd)
    return listing


def damaged_data_png(path: Path, seed: int = 0) -> Path:
    """A PNG whose header and end marker are intact (so the scan accepts it)
    but whose pixel data is garbage: it fails only when decoded."""
    Image.new("RGB", (28, 28), (seed * 40 % 256, 90, 160)).save(path, "PNG")
    data = path.read_bytes()
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8 : start - 4])[0]
    junk = bytes((i * 37 + seed) % 256 for i in range(length))
    chunk = b"IDAT" + junk
    path.write_bytes(data[: start - 4] + chunk + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF)
                     + data[start + length + 4 :])
    return path


def huge_jpeg(path: Path, width: int = 12000, height: int = 12000) -> Path:
    """A small, valid JPEG whose frame header is rewritten to claim `width` x `height`:
    what a 12000 x 12000 photo looks like to every check that reads headers."""
    import io

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path
