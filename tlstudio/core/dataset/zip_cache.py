"""Extract a dropped .zip into a cache folder, safely, once per distinct archive.

The folder is named by the SHA-256 of the archive, so an unchanged zip is
reused and a changed one is extracted afresh. Nothing is ever written next to
the user's data. Members whose names would land outside the folder ("zip
slip": absolute paths, `..`), clash with another member or are too long for
the file system are not extracted and are reported as skipped. Archives that
would unpack to far more than they hold (zip bombs) are refused before
anything is written, and the cache is kept under a size cap by evicting the
least recently used extractions.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import time
import uuid
import zipfile
from pathlib import Path, PurePosixPath

from tlstudio.core.dataset.spec import DatasetError, SkippedFile
from tlstudio.core.events import Cancelled, NullReporter, Progress
from tlstudio.core.hashing import sha256_file

_CHUNK = 1 << 20
_DONE = "extracted.ok"  # written last; a folder without it is an interrupted extraction


def default_cache_dir() -> Path:
    if os.environ.get("TLSTUDIO_CACHE_DIR"):
        return Path(os.environ["TLSTUDIO_CACHE_DIR"])
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "tlstudio" / "Cache"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches" / "tlstudio"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tlstudio"
    return base


def _sha256(path: Path, reporter) -> str:
    def step(done: int, total: int) -> None:
        if done % (64 * _CHUNK) < _CHUNK:
            if reporter.cancel_requested():
                raise Cancelled()
            reporter.emit(Progress("scan", done, total, f"Reading {path.name}"))

    return sha256_file(path, step)


def safe_member_path(name: str) -> PurePosixPath | None:
    """The relative path a member may be written to, or None when it would escape."""
    name = name.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or (parts and parts[0].endswith(":")) or ".." in parts:
        return None
    return PurePosixPath(*parts)  # no parts ("./"): nothing to write


# Limits on what an archive may unpack to. Image files barely compress (JPEG
# and PNG are compressed already), so a high ratio over many megabytes is a
# zip bomb, not a dataset.
MAX_MEMBERS = 1_000_000
MAX_RATIO = 100  # uncompressed / compressed, once past RATIO_FLOOR bytes
RATIO_FLOOR = 64 << 20
CACHE_MAX_BYTES = 50 * 10**9  # extractions kept; the least recently used go first


def cache_max_bytes() -> int:
    value = os.environ.get("TLSTUDIO_ZIP_CACHE_MAX_BYTES")
    return int(value) if value else CACHE_MAX_BYTES


def extract_zip(zip_path: Path, cache_dir: Path | None = None, reporter=None) -> tuple[Path, list[SkippedFile]]:
    """The folder holding the archive's files, and the members that were refused."""
    reporter = reporter or NullReporter()
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / "zips" / _sha256(zip_path, reporter)
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise DatasetError(f"{zip_path} is not a valid zip archive (it may be damaged or incomplete)") from None
    with archive:
        members = archive.infolist()
        skipped = [
            SkippedFile(Path(f"{zip_path}/{m.filename}"), "unsafe-path",
                        f"'{m.filename}' would be written outside the dataset folder")
            for m in members if safe_member_path(m.filename) is None
        ]
        done = _read_done(target)
        if done is not None:
            os.utime(target / _DONE)  # recently used: evicted last
            return target / "data", skipped + done
        _check_limits(zip_path, members)
        skipped += _extract(archive, zip_path, members, target, reporter)
    return target / "data", skipped


def _check_limits(zip_path: Path, members) -> None:
    """Refuse a zip bomb before writing anything. zipfile stops each member at
    its declared size, so the declared sizes bound what extraction writes."""
    if len(members) > MAX_MEMBERS:
        raise DatasetError(f"{zip_path} holds {len(members):,} entries, more than the limit of {MAX_MEMBERS:,}; "
                           "it was not extracted")
    packed = sum(m.compress_size for m in members)
    unpacked = sum(m.file_size for m in members)
    if packed > zip_path.stat().st_size:
        raise DatasetError(f"{zip_path} has entries that share their compressed data (a zip bomb); "
                           "it was not extracted")
    cap = cache_max_bytes()
    if unpacked > cap:
        raise DatasetError(f"{zip_path} would unpack to {unpacked / 1e9:.1f} GB, more than the zip cache's limit "
                           f"of {cap / 1e9:.1f} GB; extract it yourself and drop the folder")
    for member in members:
        _check_ratio(zip_path, member.filename, member.file_size, member.compress_size)
    _check_ratio(zip_path, None, unpacked, packed)


def _check_ratio(zip_path: Path, name: str | None, size: int, packed: int) -> None:
    """`name`: the member's; None for the whole archive."""
    if size > RATIO_FLOOR and size > MAX_RATIO * max(1, packed):
        what = "the archive" if name is None else f"'{name}'"
        raise DatasetError(f"{zip_path}: {what} unpacks to {size / 1e6:,.0f} MB from {packed / 1e6:,.1f} MB, "
                           f"more than {MAX_RATIO} times its size (a possible zip bomb); it was not extracted")


def _read_done(target: Path) -> list[SkippedFile] | None:
    """The members an earlier extraction refused, or None when there is none."""
    try:
        record = json.loads((target / _DONE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    return [SkippedFile(Path(p), reason, detail) for p, reason, detail in record.get("skipped", [])]


def _size_of(entry: Path) -> int:
    try:
        return int(json.loads((entry / _DONE).read_text(encoding="utf-8"))["bytes"])
    except (OSError, ValueError, KeyError, TypeError):
        return sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())


def _make_room(zips: Path, needed: int) -> None:
    """Evict the least recently used extractions until `needed` more bytes fit
    under the cap; interrupted extractions older than an hour go too."""
    cap = cache_max_bytes()
    entries = []
    for entry in zips.iterdir() if zips.is_dir() else ():
        try:
            if (entry / _DONE).is_file():
                entries.append(((entry / _DONE).stat().st_mtime, _size_of(entry), entry))
            elif ".partial-" in entry.name and time.time() - entry.stat().st_mtime > 3600:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
    total = sum(size for _, size, _ in entries)
    for _, size, entry in sorted(entries):
        if total + needed <= cap:
            break
        shutil.rmtree(entry, ignore_errors=True)
        total -= size


def _copy_member(archive: zipfile.ZipFile, member, dest: Path) -> None:
    # O_EXCL: a second member of the same name is a clash, never an overwrite.
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with archive.open(member) as src:
            while chunk := src.read(_CHUNK):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _short(name: str) -> str:
    return name if len(name) <= 60 else f"{name[:40]}…{name[-12:]} ({len(name)} characters)"


def _member_problem(zip_path: Path, member, exc: OSError) -> SkippedFile | None:
    """A member that cannot be written as named is skipped; None: the error is not about its name."""
    where = Path(f"{zip_path}/{member.filename}")
    if isinstance(exc, (FileExistsError, NotADirectoryError, IsADirectoryError)):
        return SkippedFile(where, "name-clash", f"'{_short(member.filename)}' clashes with another entry of the "
                           "archive (the same name as both a file and a folder, or twice); only the first was kept")
    if exc.errno == errno.ENAMETOOLONG:
        return SkippedFile(where, "name-too-long", f"'{_short(member.filename)}' is a longer name than this "
                           "file system allows")
    return None


def _extract(archive: zipfile.ZipFile, zip_path: Path, members, target: Path, reporter) -> list[SkippedFile]:
    needed = sum(m.file_size for m in members)
    target.parent.mkdir(parents=True, exist_ok=True)
    _make_room(target.parent, needed)
    free = shutil.disk_usage(target.parent).free
    if needed > free:
        raise DatasetError(f"{zip_path} needs {needed / 1e9:.1f} GB to extract but only {free / 1e9:.1f} GB is free "
                           f"in {target.parent}")
    work = target.parent / f"{target.name}.partial-{uuid.uuid4().hex[:8]}"
    data = work / "data"
    skipped: list[SkippedFile] = []
    try:
        data.mkdir(parents=True)
        for i, member in enumerate(members):
            if i % 200 == 0:
                if reporter.cancel_requested():
                    raise Cancelled()
                reporter.emit(Progress("scan", i, len(members), f"Extracting {zip_path.name}"))
            rel = safe_member_path(member.filename)
            if rel is None or not rel.parts:
                continue
            dest = data.joinpath(*rel.parts)
            try:
                if member.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                _copy_member(archive, member, dest)
            except OSError as exc:
                problem = _member_problem(zip_path, member, exc)
                if problem is None:
                    raise
                skipped.append(problem)
        refused = [[str(s.path), s.reason, s.detail] for s in skipped]
        record = {"source": str(zip_path), "bytes": needed, "skipped": refused}
        (work / _DONE).write_text(json.dumps(record), encoding="utf-8")
        if target.exists():  # a stale, interrupted extraction
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(work, target)
        except OSError:
            if not (target / _DONE).exists():
                raise
            shutil.rmtree(work, ignore_errors=True)  # another scan finished the same archive first
    except RuntimeError as exc:  # zipfile: encrypted members
        shutil.rmtree(work, ignore_errors=True)
        raise DatasetError(f"{zip_path} cannot be extracted: {exc}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise DatasetError(f"{zip_path} is damaged or uses an unsupported compression: {exc}") from None
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise DatasetError(f"{zip_path} cannot be extracted: {target.parent} ran out of space or of "
                               "free inodes; free some space and scan again") from None
        raise DatasetError(f"{zip_path} cannot be extracted into {target.parent}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return skipped
