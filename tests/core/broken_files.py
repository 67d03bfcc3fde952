"""Real good and broken image files for the dataset tests, written with PIL and plain bytes.

`write_broken_set(folder)` fills a class folder with one file per problem and
returns {file name: expected skip reason}; `ODD_MODES` lists the files that
look odd but must be accepted.
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 24


def _noise(seed: int, size: int = SIZE, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (size, size, channels) if channels > 1 else (size, size)
    return rng.integers(0, 255, shape, dtype=np.uint8)


def good_png(path: Path, seed: int = 0, size: int = SIZE) -> Path:
    Image.fromarray(_noise(seed, size)).save(path, "PNG")
    return path


def good_jpeg(path: Path, seed: int = 0, size: int = SIZE) -> Path:
    Image.fromarray(_noise(seed, size)).save(path, "JPEG", quality=90)
    return path


def jpeg_bytes(seed: int = 0, size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.fromarray(_noise(seed, size)).save(out, "JPEG", quality=95)
    return out.getvalue()


def truncated_jpeg(path: Path) -> Path:
    """A camera JPEG cut off mid-download: a perfect header, half the data, no end marker."""
    data = jpeg_bytes(1)
    path.write_bytes(data[: len(data) // 2])
    return path


def truncated_png(path: Path) -> Path:
    out = io.BytesIO()
    Image.fromarray(_noise(2, 64)).save(out, "PNG")
    data = out.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def garbage_header_jpeg(path: Path) -> Path:
    """Starts with the JPEG signature, then noise: the header cannot be parsed."""
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(_noise(3, 16).tobytes()))
    return path


def text_named_jpg(path: Path) -> Path:
    path.write_text("This is a note, not a photo.\n", encoding="utf-8")
    return path


def html_named_jpg(path: Path) -> Path:
    path.write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>\n", encoding="utf-8")
    return path


def zero_bytes(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def twelve_bit_jpeg(path: Path) -> Path:
    """A JPEG whose frame header declares 12-bit samples, which PIL refuses to open."""
    data = bytearray(jpeg_bytes(4, 16))
    sof = data.index(b"\xff\xc0")
    data[sof + 4] = 12
    path.write_bytes(bytes(data))
    return path


def cmyk_jpeg(path: Path) -> Path:
    Image.fromarray(_noise(5, SIZE, 4), "CMYK").save(path, "JPEG")
    return path


def png_16bit(path: Path) -> Path:
    """16-bit grayscale ("I;16"), as microscopes and medical scanners write."""
    values = (np.arange(SIZE * SIZE, dtype=np.uint16).reshape(SIZE, SIZE) * 97)
    Image.frombytes("I;16", (SIZE, SIZE), values.astype("<u2").tobytes()).save(path, "PNG")
    return path


def palette_png_with_transparency(path: Path) -> Path:
    im = Image.new("P", (SIZE, SIZE))
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9))
    im.paste(1, (0, 0, SIZE // 2, SIZE))
    im.save(path, "PNG", transparency=0)
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_header_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A 57-byte PNG whose valid header claims 10 gigapixels: a decompression bomb's calling card."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IEND", b""))
    return path


def broken_symlink(path: Path) -> Path:
    os.symlink("no-such-photo.jpg", path)
    return path


def symlink_loop(path: Path) -> Path:
    """Two links pointing at each other."""
    other = path.with_name(path.stem + "-partner" + path.suffix)
    os.symlink(other.name, path)
    os.symlink(path.name, other)
    return path


def ds_store(folder: Path) -> Path:
    path = folder / ".DS_Store"
    path.write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    return path


# name -> (writer, expected skip reason)
BROKEN = {
    "truncated.jpg": (truncated_jpeg, "truncated"),
    "truncated.png": (truncated_png, "truncated"),
    "garbage header.jpg": (garbage_header_jpeg, "unreadable-header"),
    "notes.jpg": (text_named_jpg, "not-an-image"),
    "page.jpeg": (html_named_jpg, "not-an-image"),
    "empty.png": (zero_bytes, "zero-bytes"),
    "twelve-bit.jpg": (twelve_bit_jpeg, "unsupported-mode"),
    "bomb.png": (huge_header_png, "too-many-pixels"),
    "dangling.jpg": (broken_symlink, "broken-symlink"),
    "loop.jpg": (symlink_loop, "broken-symlink"),
}
# name -> (writer, PIL mode the header reports); each must be accepted and load as RGB
ODD_MODES = {
    "cmyk.jpg": (cmyk_jpeg, "CMYK"),
    "sixteen-bit.png": (png_16bit, "I;16"),
    "palette transparent.png": (palette_png_with_transparency, "P"),
}
# non-ASCII and space-containing names must be accepted like any other
GOOD_NAMES = ("café au lait.jpg", "日本 語.png", "plain.png")


def write_broken_set(folder: Path) -> dict[str, str]:
    """Every broken file, the odd modes and good images in `folder`: {name: expected reason or "ok"}."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for name, (writer, reason) in BROKEN.items():
        writer(folder / name)
        expected[name] = reason
    expected["loop-partner.jpg"] = "broken-symlink"
    ds_store(folder)
    expected[".DS_Store"] = "hidden"
    (folder / "._plain.png").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    expected["._plain.png"] = "hidden"
    (folder / "readme.txt").write_text("about these photos\n")
    expected["readme.txt"] = "not-an-image"
    for name, (writer, _) in ODD_MODES.items():
        writer(folder / name)
        expected[name] = "ok"
    for i, name in enumerate(GOOD_NAMES):
        (good_jpeg if name.endswith(".jpg") else good_png)(folder / name, seed=10 + i)
        expected[name] = "ok"
    return expected


def make_class_folders(root: Path, counts: dict[str, int], size: int = 16, fmt: str = "png") -> Path:
    """`root/<class>/<i>.<fmt>` with `counts[class]` small noise images each."""
    writer = good_png if fmt == "png" else good_jpeg
    for c, (label, n) in enumerate(counts.items()):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            writer(root / label / f"{label}_{i:03d}.{fmt}", seed=c * 1000 + i, size=size)
    return root
