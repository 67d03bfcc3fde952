"""Extract a dropped .zip into a cache folder, safely, once per distinct archive.

The folder is named by the SHA-256 of the archive, so an unchanged zip is
reused and a changed one is extracted afresh. Nothing is ever written next to
the user's data. Members whose names would land outside the folder ("zip
slip": absolute paths, `..`) are not extracted and are reported as skipped.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import uuid
import zipfile
from pathlib import Path, PurePosixPath

from tlstudio.core.dataset import DatasetError, SkippedFile
from tlstudio.core.events import Cancelled, NullReporter, Progress

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
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if done % (64 * _CHUNK) < _CHUNK:
                if reporter.cancel_requested():
                    raise Cancelled()
                reporter.emit(Progress("scan", done, total, f"Reading {path.name}"))
    return digest.hexdigest()


def safe_member_path(name: str) -> PurePosixPath | None:
    """The relative path a member may be written to, or None when it would escape."""
    name = name.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or (parts and parts[0].endswith(":")) or ".." in parts:
        return None
    return PurePosixPath(*parts)  # no parts ("./"): nothing to write


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
        if (target / _DONE).exists():
            return target / "data", skipped
        _extract(archive, zip_path, members, target, reporter)
    return target / "data", skipped


def _extract(archive: zipfile.ZipFile, zip_path: Path, members, target: Path, reporter) -> None:
    needed = sum(m.file_size for m in members)
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if needed > free:
        raise DatasetError(f"{zip_path} needs {needed / 1e9:.1f} GB to extract but only {free / 1e9:.1f} GB is free "
                           f"in {target.parent}")
    work = target.parent / f"{target.name}.partial-{uuid.uuid4().hex[:8]}"
    data = work / "data"
    try:
        for i, member in enumerate(members):
            if i % 200 == 0:
                if reporter.cancel_requested():
                    raise Cancelled()
                reporter.emit(Progress("scan", i, len(members), f"Extracting {zip_path.name}"))
            rel = safe_member_path(member.filename)
            if rel is None or not rel.parts:
                continue
            dest = data.joinpath(*rel.parts)
            if member.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
        data.mkdir(parents=True, exist_ok=True)
        (work / _DONE).write_text(str(zip_path))
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
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
