"""Hostile and awkward zips through `tlstudio scan`: bombs, clashing and over-long names, a full disk, the cache cap."""
from __future__ import annotations

import errno
import os
import random
import struct
import subprocess
import zipfile

import pytest
from core.broken_files import good_png, make_class_folders
from core.cli_run import tlstudio
from core.source_digest import digest

from tlstudio.core.dataset import zip_cache as dataset_zip


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("TLSTUDIO_CACHE_DIR", str(folder))
    return folder


def _zip(path, members: dict[str, bytes], method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _images(tmp_path, counts=None) -> dict[str, bytes]:
    src = make_class_folders(tmp_path / "src", counts or {"a": 3, "b": 3})
    return {str(p.relative_to(src)): p.read_bytes() for p in sorted(src.rglob("*.png"))}


def _extractions(cache) -> list[str]:
    zips = cache / "zips"
    return sorted(p.name for p in zips.iterdir()) if zips.exists() else []


def test_a_csv_inside_a_zip_reads_only_the_archive(tmp_path, cache, capsys):
    members = {f"dataset/{name}": data for name, data in _images(tmp_path).items()}
    source = tmp_path / "source"
    source.mkdir()
    good_png(source / "secret.png")
    rows = ["file,label", "a/a_000.png,a", "../dataset/a/a_001.png,a", "b/b_000.png,b", "b/b_001.png,b",
            "/etc/passwd,a", f"{source / 'secret.png'},b", "../../secret.png,b"]
    members["dataset/labels.csv"] = "\n".join(rows).encode()  # in a wrapper folder: ../dataset stays inside
    archive = _zip(source / "data.zip", members)
    before = digest(source)
    run = tlstudio(capsys, "scan", archive, "--allow-absolute-paths")  # never for a CSV inside a zip
    assert run.rc == 0, run.err
    assert "Images:  4 in 2 classes" in run.out
    outside = sorted(line.split(": ", 1)[1] for line in run.lines if line.startswith("  outside-dataset"))
    assert outside == [
        "labels.csv line 6: '/etc/passwd' lies outside the dataset folder and was not read",
        f"labels.csv line 7: '{source / 'secret.png'}' lies outside the dataset folder and was not read",
        "labels.csv line 8: '../../secret.png' lies outside the dataset folder and was not read",
    ]
    assert digest(source) == before


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path, cache, capsys):
    archive = _zip(tmp_path / "bomb.zip", {"a/zeros.png": bytes(100 << 20)})
    assert archive.stat().st_size < 1 << 20
    before = digest(tmp_path)
    run = tlstudio(capsys, "scan", archive)
    assert run.rc == 2 and run.out == ""
    assert run.err.strip() == (f"tlstudio scan: error: {archive}: 'a/zeros.png' unpacks to 105 MB from 0.1 MB, more "
                               "than 100 times its size (a possible zip bomb); it was not extracted")
    assert _extractions(cache) == []
    spread = _zip(tmp_path / "spread.zip", {f"a/{i:02d}.png": bytes(1 << 20) for i in range(70)})  # each under 64 MB
    before = digest(tmp_path)
    run = tlstudio(capsys, "scan", spread)
    assert run.rc == 2
    assert run.err.strip() == (f"tlstudio scan: error: {spread}: the archive unpacks to 73 MB from 0.1 MB, more than "
                               "100 times its size (a possible zip bomb); it was not extracted")
    assert _extractions(cache) == []
    assert digest(tmp_path) == before


def _overlapping(path, tmp_path):
    """Two central-directory entries sharing one member's compressed data, as overlap bombs do."""
    _zip(path, {"a/one.png": random.Random(0).randbytes(4096)}, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    cd = data.index(b"PK\x01\x02")
    eocd = data.index(b"PK\x05\x06")
    entry = bytes(data[cd:eocd])
    twin = entry.replace(b"a/one.png", b"a/two.png")
    new_cd = entry + twin
    tail = bytearray(data[eocd:])
    struct.pack_into("<HHII", tail, 8, 2, 2, len(new_cd), cd)
    path.write_bytes(bytes(data[:cd]) + new_cd + bytes(tail))
    return path


def test_members_that_share_their_data_are_refused(tmp_path, cache, capsys):
    archive = _overlapping(tmp_path / "overlap.zip", tmp_path)
    assert [m.filename for m in zipfile.ZipFile(archive).infolist()] == ["a/one.png", "a/two.png"]
    before = digest(tmp_path)
    run = tlstudio(capsys, "scan", archive)
    assert run.rc == 2
    assert run.err.strip() == (f"tlstudio scan: error: {archive} has entries that share their compressed data "
                               "(a zip bomb); it was not extracted")
    assert _extractions(cache) == [] and digest(tmp_path) == before


def test_member_count_and_total_size_limits(tmp_path, cache, capsys, monkeypatch):
    archive = _zip(tmp_path / "many.zip", _images(tmp_path, {"a": 6, "b": 6}))
    before = digest(tmp_path)
    monkeypatch.setattr(dataset_zip, "MAX_MEMBERS", 10)
    run = tlstudio(capsys, "scan", archive)
    assert run.rc == 2
    assert run.err.strip() == (f"tlstudio scan: error: {archive} holds 12 entries, more than the limit of 10; "
                               "it was not extracted")
    monkeypatch.setattr(dataset_zip, "MAX_MEMBERS", 1_000_000)
    monkeypatch.setenv("TLSTUDIO_ZIP_CACHE_MAX_BYTES", "1000")
    unpacked = sum(m.file_size for m in zipfile.ZipFile(archive).infolist())
    run = tlstudio(capsys, "scan", archive)
    assert run.rc == 2
    assert run.err.strip() == (f"tlstudio scan: error: {archive} would unpack to {unpacked / 1e9:.1f} GB, more than "
                               "the zip cache's limit of 0.0 GB; extract it yourself and drop the folder")
    assert _extractions(cache) == [] and digest(tmp_path) == before


def test_the_cache_keeps_under_its_cap_by_evicting_the_least_recently_used(tmp_path, cache, capsys, monkeypatch):
    source = tmp_path / "source"
    source.mkdir()
    first = _zip(source / "first.zip", _images(tmp_path / "1", {"a": 4, "b": 4}))
    second = _zip(source / "second.zip", _images(tmp_path / "2", {"c": 4, "d": 4}))
    size = max(sum(m.file_size for m in zipfile.ZipFile(z).infolist()) for z in (first, second))
    monkeypatch.setenv("TLSTUDIO_ZIP_CACHE_MAX_BYTES", str(size + size // 2))  # room for one extraction
    before = digest(source)
    assert tlstudio(capsys, "scan", first).rc == 0
    (only,) = _extractions(cache)
    assert tlstudio(capsys, "scan", second).rc == 0
    assert len(_extractions(cache)) == 1 and _extractions(cache) != [only]  # the first was evicted
    assert tlstudio(capsys, "scan", first).rc == 0  # and is extracted afresh when needed again
    assert _extractions(cache) == [only]
    assert digest(source) == before


def test_clashing_and_over_long_member_names_are_skipped_with_a_reason(tmp_path, cache, capsys):
    members = _images(tmp_path)
    members["b/b_000.png/inside.png"] = members["a/a_000.png"]  # b_000.png is a file, and here a folder
    long_name = "a/" + "n" * 294 + ".png"
    members[long_name] = members["a/a_001.png"]
    (tmp_path / "source").mkdir()
    archive = _zip(tmp_path / "source" / "clash.zip", members)
    before = digest(tmp_path / "source")
    for attempt in ("extracted", "from the cache"):
        run = tlstudio(capsys, "scan", archive)
        assert run.rc == 0, (attempt, run.err)
        assert "Images:  6 in 2 classes" in run.out
        assert f"  name-clash     {archive}/b/b_000.png/inside.png: 'b/b_000.png/inside.png' clashes with another " \
               "entry of the archive (the same name as both a file and a folder, or twice); only the first was kept" \
               in run.lines, (attempt, run.out)
        short = long_name[:40] + "…" + long_name[-12:] + " (300 characters)"
        assert f"  name-too-long  {archive}/{long_name}: '{short}' is a longer name than this file system allows" \
               in run.lines, (attempt, run.out)
    assert digest(tmp_path / "source") == before


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs with 64 inodes for the cache, where this machine allows mounting; otherwise None."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=64", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    yield folder if mounted else None
    if mounted:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_running_out_of_inodes_or_space_while_extracting_is_one_line(tmp_path, small_disk, capsys, monkeypatch):
    source = tmp_path / "source"
    source.mkdir()
    members = {f"{'ab'[i % 2]}/{i:03d}.png": b"" for i in range(200)}  # declares 0 bytes, needs 200 inodes
    archive = _zip(source / "many.zip", members)
    before = digest(source)
    cache = small_disk if small_disk is not None else tmp_path / "cache"
    if small_disk is None:  # no tmpfs here: the disk fills after 50 files
        real_open, count = os.open, [0]

        def filling_open(path, flags, *args, **kwargs):
            if flags & os.O_CREAT and str(path).startswith(str(cache)):
                count[0] += 1
                if count[0] > 50:
                    raise OSError(errno.ENOSPC, "No space left on device", str(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(dataset_zip.os, "open", filling_open)
    monkeypatch.setenv("TLSTUDIO_CACHE_DIR", str(cache))
    run = tlstudio(capsys, "scan", archive)
    assert run.rc == 2 and run.out == ""
    assert run.err.strip() == (f"tlstudio scan: error: {archive} cannot be extracted: {cache / 'zips'} ran out of "
                               "space or of free inodes; free some space and scan again")
    assert os.listdir(cache / "zips") == []  # the partial extraction is gone
    assert digest(source) == before
