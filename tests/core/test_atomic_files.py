"""A killed write leaves a hidden temp file; the next write to that folder removes ours, and only ours."""
from __future__ import annotations

import os
import time

from source_digest import digest

from tlstudio.core.atomic_files import STALE_S, atomic_write, temp_path


def test_the_next_write_removes_stale_temp_files_of_ours_only(tmp_path):
    target = tmp_path / "model.json"
    stale = temp_path(target)
    fresh = temp_path(tmp_path / "other.pkl")
    for path in (stale, fresh):
        path.write_bytes(b"half a file")
    old = time.time() - STALE_S - 60
    os.utime(stale, (old, old))
    # Files that merely look alike are the user's: never touched.
    users = [tmp_path / ".notes.txt.tmp", tmp_path / ".model.json.NOT-HEX-DIGIT.tmp", tmp_path / "model.json.tmp"]
    for path in users:
        path.write_text("mine")
        os.utime(path, (old, old))
    before = digest(tmp_path)

    atomic_write(target, lambda tmp: tmp.write_text("{}"))

    assert target.read_text() == "{}"
    assert not stale.exists() and fresh.exists()  # a write may still be in progress: left alone
    after = digest(tmp_path)
    assert after == {k: v for k, v in before.items() if k != stale.name} | {"model.json": after["model.json"]}


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "model.pkl"

    def fails(tmp):
        tmp.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    try:
        atomic_write(target, fails)
    except OSError as exc:
        assert exc.errno == 28
    else:
        raise AssertionError("the failed write did not raise")
    assert list(tmp_path.iterdir()) == []
