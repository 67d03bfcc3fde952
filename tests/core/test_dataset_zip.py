"""Zip extraction: an interrupted or cancelled extraction is never reused or left behind."""
from __future__ import annotations

import hashlib
import zipfile

import pytest
from broken_files import make_class_folders

from tlstudio.core.dataset.scan import scan
from tlstudio.core.events import Cancelled, ListReporter, Progress


def make_zip(tmp_path, counts):
    src = make_class_folders(tmp_path / "src", counts, size=8)
    archive = tmp_path / "d.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.rglob("*.png")):
            zf.write(path, path.relative_to(src).as_posix())
    return archive


def test_a_half_extracted_folder_is_extracted_again(tmp_path):
    archive = make_zip(tmp_path, {"a": 3, "b": 3})
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    half = tmp_path / "cache" / "zips" / digest / "data" / "a"
    half.mkdir(parents=True)  # what a crash mid-extraction leaves: no completion marker
    spec = scan(archive, cache_dir=tmp_path / "cache")
    assert spec.class_counts() == {"a": 3, "b": 3}
    assert spec.data_dir == tmp_path / "cache" / "zips" / digest / "data"


def test_cancelled_extraction_leaves_nothing(tmp_path):
    archive = make_zip(tmp_path, {"a": 120, "b": 120})  # cancel is checked every 200 members
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, Progress) and e.message.startswith("Extracting"))
    with pytest.raises(Cancelled):
        scan(archive, cache_dir=tmp_path / "cache", reporter=reporter)
    assert list((tmp_path / "cache" / "zips").iterdir()) == []
    assert scan(archive, cache_dir=tmp_path / "cache").class_counts() == {"a": 120, "b": 120}
