"""Decide from a file's first and last bytes whether it is an image fastai can load.

Scanning must stay fast on tens of thousands of files, so nothing is decoded:
PNG and JPEG headers (nearly every dataset) are parsed here directly, and a
few bytes at the end tell whether the file was cut short. Other formats go
through PIL's lazy `Image.open`, which reads the header only.

`decode_checked` is the one place an image is decoded for training and
prediction: the same header check first, so the one pixel limit
(`DEFAULT_MAX_PIXELS`) holds for scan, training and predict alike and nothing
over it is ever decoded.
"""
from __future__ import annotations

import errno
import os
import struct
from functools import lru_cache
from typing import NamedTuple

from PIL import Image

from tlstudio.core.errors import UserFacingError

# PIL warns above this many pixels and refuses twice as many; past it an image
# is far larger than any classifier input and is most likely a decompression bomb.
DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485

IMAGE_EXTENSIONS = frozenset(
    ".jpg .jpeg .jpe .jfif .png .bmp .dib .gif .tif .tiff .webp .ppm .pgm .pbm .pnm .tga .ico".split()
)

_HEAD = 16384  # one read covers a small file whole and most headers
_TAIL = 4096  # how far from the end an end-of-image marker may sit
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MODES = {  # (colour type, bit depth) -> the mode PIL opens it in
    (0, 1): "1", (0, 2): "L", (0, 4): "L", (0, 8): "L", (0, 16): "I;16",
    (2, 8): "RGB", (2, 16): "RGB",
    (3, 1): "P", (3, 2): "P", (3, 4): "P", (3, 8): "P",
    (4, 8): "LA", (4, 16): "LA",
    (6, 8): "RGBA", (6, 16): "RGBA",
}
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_MODES = {1: "L", 3: "RGB", 4: "CMYK"}
# Modes that load as RGB but not as the file stores them; the scan mentions them.
MODE_NOTES = {
    "CMYK": "CMYK (print colours); converted to RGB when loaded",
    "I;16": "16-bit grayscale; converting to RGB clips values above 255",
    "I": "32-bit integer; converting to RGB clips values above 255",
    "F": "32-bit float; converting to RGB clips values outside 0-255",
}


class ImageCheck(NamedTuple):
    """Outcome of checking one file: `reason` is None when the image is usable.

    A tuple rather than a dataclass: one is made per file, tens of thousands per scan."""

    reason: str | None = None
    detail: str = ""  # the problem in one sentence, or a note on an accepted odd mode
    width: int = 0
    height: int = 0
    mode: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


def _fail(reason: str, detail: str, width: int = 0, height: int = 0, mode: str = "") -> ImageCheck:
    return ImageCheck(reason, detail, width, height, mode)


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)
_PNG_IHDR = struct.Struct(">IIBB")
_PNG_END = b"IEND\xaeB`\x82"


def check_image(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageCheck:
    """Check one file by its header (and, for PNG and JPEG, its last bytes)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        return _unreadable(path, exc)
    try:
        head = os.read(fd, _HEAD)
        if head[:8] == _PNG_SIGNATURE:
            result = _check_png(fd, head, path)
        elif head[:3] == b"\xff\xd8\xff":
            result = _check_jpeg(fd, head, path)
        elif not head:
            return _fail("zero-bytes", f"'{os.path.basename(path)}' is empty (0 bytes)")
        else:
            result = None
    except OSError as exc:
        return _unreadable(path, exc)
    finally:
        os.close(fd)
    if result is None:
        result = _check_with_pil(path, head, os.path.basename(path))
    if result.width * result.height > max_pixels and result.reason in (None, "truncated"):
        return _fail(
            "too-many-pixels",
            f"'{os.path.basename(path)}' is {result.width} x {result.height} pixels, more than the limit of "
            f"{max_pixels:,} (a possible decompression bomb)",
            result.width, result.height, result.mode,
        )
    return result


class ImageProblem(UserFacingError):
    """An image that cannot be used; `reason` is one of the scan's skip reasons."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def decode_checked(path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode one image file, once, as RGB; ImageProblem when it cannot be used.

    The header check comes first: a file over the pixel limit, cut short or not
    an image is refused from a few kilobytes, before any pixel is decoded."""
    path = os.fspath(path)
    check = check_image(path, max_pixels)
    if check.reason is not None:
        raise ImageProblem(check.reason, check.detail)
    name = os.path.basename(path)
    image = None
    try:
        image = Image.open(path)
        if image.width * image.height > max_pixels:  # the file changed since its header was read
            raise ImageProblem("too-many-pixels", f"'{name}' is {image.width} x {image.height} pixels, more than "
                               f"the limit of {max_pixels:,}")
        image.load()  # as fastai's load_image does; PIL closes a single-frame file once loaded
        return image if image.mode == "RGB" else image.convert("RGB")
    except Exception as exc:  # PIL raises many types for broken files
        if image is not None:
            image.close()
        if isinstance(exc, ImageProblem):
            raise
        raise ImageProblem("unreadable", f"'{name}' cannot be decoded ({type(exc).__name__}: {exc})") from None


def _unreadable(path: str, exc: OSError) -> ImageCheck:
    name = os.path.basename(path)
    if exc.errno == errno.ENOENT:
        return _fail("broken-symlink", f"'{name}' points to a file that does not exist")
    if exc.errno == errno.ELOOP:
        return _fail("broken-symlink", f"'{name}' is a symbolic link loop")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return _fail("unreadable", f"'{name}' cannot be read: permission denied")
    return _fail("unreadable", f"'{name}' cannot be read: {exc.strerror or exc}")


def _tail(fd: int, head: bytes, start: int = 0) -> bytes:
    """The last bytes of the file, never reaching back before offset `start`."""
    if len(head) < _HEAD:  # the first read hit the end: the whole file is in `head`
        return head[max(start, len(head) - _TAIL):]
    size = os.lseek(fd, 0, os.SEEK_END)
    offset = max(start, size - _TAIL)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size - offset)


def _check_png(fd: int, head: bytes, path: str) -> ImageCheck:
    if len(head) < 33 or head[12:16] != b"IHDR":
        return _fail("unreadable-header", f"'{os.path.basename(path)}' has a damaged PNG header")
    width, height, depth, colour = _PNG_IHDR.unpack_from(head, 16)
    mode = _PNG_MODES.get((colour, depth))
    if mode is None or not width or not height:
        return _fail("unreadable-header", f"'{os.path.basename(path)}' has an invalid PNG header "
                     f"({width} x {height}, colour type {colour}, {depth}-bit)")
    if not head.endswith(_PNG_END) and b"IEND" not in _tail(fd, head) and not _marker_after(fd, 33, b"IEND"):
        return _fail("truncated", f"'{os.path.basename(path)}' is cut short: the PNG has no end marker",
                     width, height, mode)
    return ImageCheck(None, MODE_NOTES.get(mode, ""), width, height, mode)


def _check_jpeg(fd: int, head: bytes, path: str) -> ImageCheck:
    name = os.path.basename(path)
    buf, pos, sof = head, 2, None
    while True:
        if pos + 4 > len(buf):
            buf = _read_more(fd, buf, pos + 4)
            if pos + 4 > len(buf):
                return _fail("unreadable-header", f"'{name}' has a damaged or incomplete JPEG header")
        if buf[pos] != 0xFF:
            return _fail("unreadable-header", f"'{name}' has a damaged JPEG header")
        marker = buf[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return _fail("unreadable-header", f"'{name}' has no JPEG frame header")
        length = struct.unpack(">H", buf[pos + 2 : pos + 4])[0]
        if marker in _JPEG_SOF:
            if pos + 10 > len(buf):
                buf = _read_more(fd, buf, pos + 10)
            if pos + 10 > len(buf):
                return _fail("unreadable-header", f"'{name}' has a damaged or incomplete JPEG header")
            precision, height, width, components = struct.unpack(">BHHB", buf[pos + 4 : pos + 10])
            sof = pos
            break
        pos += 2 + length
    if not width or not height:
        return _fail("unreadable-header", f"'{name}' has a JPEG header with no image size")
    mode = _JPEG_MODES.get(components)
    if precision != 8 or mode is None:
        return _fail("unsupported-mode", f"'{name}' is a {precision}-bit JPEG with {components} colour "
                     "channels; only 8-bit grayscale, colour and CMYK JPEGs can be read",
                     width, height, mode or "")
    # Start after the frame header: an embedded thumbnail ends with its own marker.
    if b"\xff\xd9" not in _tail(fd, head, sof) and not _marker_after(fd, sof, b"\xff\xd9"):
        return _fail("truncated", f"'{name}' is cut short: the JPEG has no end-of-image marker",
                     width, height, mode)
    return ImageCheck(None, MODE_NOTES.get(mode, ""), width, height, mode)


def _marker_after(fd: int, offset: int, marker: bytes) -> bool:
    """Whole-file search, only for files whose last bytes lack the end marker:
    some cameras append data after it (a slow path for rare files)."""
    os.lseek(fd, offset, os.SEEK_SET)
    carry = b""
    while chunk := os.read(fd, 1 << 20):
        if marker in carry + chunk[: len(marker) - 1] or marker in chunk:
            return True
        carry = chunk[-(len(marker) - 1):]
    return False


def _read_more(fd: int, buf: bytes, need: int) -> bytes:
    """Headers with large metadata blocks (EXIF, ICC profiles) span more than one read."""
    if need > 4 * 1024 * 1024:
        return buf
    os.lseek(fd, len(buf), os.SEEK_SET)
    more = os.read(fd, max(_HEAD, need - len(buf)))
    return buf + more


@lru_cache(maxsize=None)
def _converts_to_rgb(mode: str) -> bool:
    try:
        Image.new(mode, (1, 1)).convert("RGB")
        return True
    except Exception:  # PIL raises ValueError or OSError for modes it cannot convert
        return False


def _check_with_pil(path: str, head: bytes, name: str) -> ImageCheck:
    try:
        with Image.open(path) as im:
            width, height = im.size
            mode = im.mode
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return _fail("too-many-pixels", f"'{name}' is too large to open safely ({exc})")
    except Exception:  # PIL raises many types (UnidentifiedImageError, SyntaxError, struct.error, ...)
        return _what_it_is(head, name)
    if not width or not height:
        return _fail("unreadable-header", f"'{name}' has an image header with no size")
    if not _converts_to_rgb(mode):
        return _fail("unsupported-mode", f"'{name}' stores pixels as '{mode}', which cannot be converted to RGB",
                     width, height, mode)
    return ImageCheck(None, MODE_NOTES.get(mode, ""), width, height, mode)


_IMAGE_MAGIC = (
    (b"\x89PNG", "PNG"), (b"\xff\xd8", "JPEG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"RIFF", "WebP"),
)


def _what_it_is(head: bytes, name: str) -> ImageCheck:
    """A file PIL cannot open: a damaged image, a known non-image, or unknown bytes."""
    for magic, kind in _IMAGE_MAGIC:
        if head.startswith(magic):
            return _fail("unreadable-header", f"'{name}' starts like a {kind} file but its header cannot be read")
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return _fail("unsupported-mode", f"'{name}' is a HEIC/AVIF image, which cannot be read here; "
                     "convert it to JPEG or PNG")
    return _fail("not-an-image", f"'{name}' is not an image ({_content_kind(head)})")


def _content_kind(head: bytes) -> str:
    start = head[:512].lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return "it is a web page (HTML), perhaps a failed download"
    if start.startswith(b"%pdf"):
        return "it is a PDF document"
    if start.startswith(b"pk\x03\x04"):
        return "it is a zip archive"
    if _looks_like_text(head[:512]):
        return "it contains text"
    return "its content is not a known image format"


def _looks_like_text(sample: bytes) -> bool:
    text = sample.decode("utf-8", errors="replace").rstrip("\ufffd")  # a character cut at the end
    return "\ufffd" not in text and all(c.isprintable() or c in "\r\n\t" for c in text)
