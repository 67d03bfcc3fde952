"""scan() on every import layout: class folders, split folders, CSV, zips of each, and a wrapping folder."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from broken_files import good_png, make_class_folders

from tlstudio.core.dataset.scan import scan
from tlstudio.core.dataset.spec import DatasetError

COUNTS = {"cat": 6, "dog": 5, "owl": 4}


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_CACHE_DIR", str(tmp_path / "cache"))


def zip_folder(folder: Path, zip_path: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(zip_path, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return zip_path


def split_folders(root: Path, val_name: str = "valid", test: bool = False) -> Path:
    make_class_folders(root / "train", COUNTS)
    make_class_folders(root / val_name, {"cat": 2, "dog": 2, "owl": 1})
    if test:
        make_class_folders(root / "test", {"cat": 1, "dog": 1, "owl": 1})
    return root


def csv_dataset(root: Path) -> Path:
    make_class_folders(root / "images", COUNTS)
    rows = ["file,label"] + [
        f"images/{p.parent.name}/{p.name},{p.parent.name}" for p in sorted((root / "images").rglob("*.png"))
    ]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"


def test_class_folders(tmp_path):
    spec = scan(make_class_folders(tmp_path / "data", COUNTS))
    assert spec.layout == "class-folders"
    assert spec.classes == ["cat", "dog", "owl"]
    assert spec.class_counts() == COUNTS
    assert len(spec.items) == len(spec.labels) == len(spec.splits) == len(spec.sizes) == 15
    assert all(p.parent.name == label for p, label in zip(spec.items, spec.labels))
    assert spec.sizes[0] == (16, 16) and spec.modes[0] == "RGB"
    assert spec.seed == 42 and spec.skipped == [] and spec.warnings == []


def test_images_in_nested_subfolders_belong_to_their_class(tmp_path):
    root = make_class_folders(tmp_path / "data", {"cat": 3, "dog": 3})
    (root / "cat" / "2024" / "june").mkdir(parents=True)
    good_png(root / "cat" / "2024" / "june" / "extra.png")
    spec = scan(root)
    assert spec.class_counts() == {"cat": 4, "dog": 3}


@pytest.mark.parametrize("val_name", ["valid", "val", "validation"])
def test_split_folders(tmp_path, val_name):
    spec = scan(split_folders(tmp_path / "data", val_name))
    assert spec.layout == "split-folders" and spec.seed is None
    assert spec.split_counts() == {"train": 15, "valid": 5, "test": 0}
    assert spec.class_counts("valid") == {"cat": 2, "dog": 2, "owl": 1}
    assert all(p.parts[-3] == ("train" if s == "train" else val_name) for p, s in zip(spec.items, spec.splits))


def test_split_folders_with_test(tmp_path):
    spec = scan(split_folders(tmp_path / "data", test=True), test_pct=0.3)
    assert spec.split_counts() == {"train": 15, "valid": 5, "test": 3}
    assert spec.has_test and spec.seed is None  # the folders decide; test_pct is not applied on top


def test_train_folder_alone_is_split_randomly(tmp_path):
    make_class_folders(tmp_path / "data" / "train", COUNTS)
    spec = scan(tmp_path / "data")
    assert spec.layout == "split-folders" and spec.seed == 42
    assert all(n >= 1 for n in spec.class_counts("valid").values())


def test_csv_file(tmp_path):
    spec = scan(csv_dataset(tmp_path / "data"))
    assert spec.layout == "csv"
    assert spec.class_counts() == COUNTS
    assert spec.data_dir == tmp_path / "data"


def test_csv_reports_missing_files_and_honours_a_split_column(tmp_path):
    root = tmp_path / "data"
    make_class_folders(root, {"a": 4, "b": 4})
    rows = ["filename;class;split"]
    for label in "ab":
        for i in range(4):
            rows.append(f"{label}/{label}_{i:03d}.png;{label};{'valid' if i == 0 else 'train'}")
    rows.append("a/gone.png;a;train")
    rows.append("a\\a_001.png;a;train")  # written on Windows, listed twice
    (root / "list.csv").write_text("\n".join(rows) + "\n")
    spec = scan(root / "list.csv")
    assert spec.split_counts() == {"train": 6, "valid": 2, "test": 0}
    reasons = {s.path.name: s.reason for s in spec.skipped}
    assert reasons == {"gone.png": "missing", "a_001.png": "duplicate"}
    missing = next(s for s in spec.skipped if s.reason == "missing")
    assert "list.csv line 10" in missing.detail and "gone.png" in missing.detail


def test_folder_with_a_label_csv_uses_the_csv(tmp_path):
    csv_dataset(tmp_path / "data")
    spec = scan(tmp_path / "data")
    assert spec.layout == "csv" and spec.class_counts() == COUNTS


def test_wrapped_folder_is_unwrapped(tmp_path):
    make_class_folders(tmp_path / "drop" / "my dataset", COUNTS)
    (tmp_path / "drop" / ".DS_Store").write_bytes(b"\x00")
    spec = scan(tmp_path / "drop")
    assert spec.root == tmp_path / "drop"
    assert spec.data_dir == tmp_path / "drop" / "my dataset"
    assert spec.classes == ["cat", "dog", "owl"]


def test_readme_beside_the_class_folders_is_not_a_skipped_image(tmp_path):
    root = make_class_folders(tmp_path / "data", COUNTS)
    (root / "README.md").write_text("my photos")
    good_png(root / "stray.png")
    spec = scan(root)
    assert [(s.path.name, s.reason) for s in spec.skipped] == [("stray.png", "unlabelled")]


@pytest.mark.parametrize("layout", ["class-folders", "split-folders", "csv", "wrapped"])
def test_zip_of_each_layout(tmp_path, layout):
    src = tmp_path / "src"
    if layout == "class-folders":
        make_class_folders(src, COUNTS)
    elif layout == "split-folders":
        split_folders(src)
    elif layout == "csv":
        csv_dataset(src)
    else:
        make_class_folders(src / "inner", COUNTS)
    archive = zip_folder(src, tmp_path / "dataset.zip")
    spec = scan(archive)
    assert spec.root == archive and spec.source_zip == archive
    assert spec.layout == ("class-folders" if layout == "wrapped" else layout)
    if layout == "split-folders":
        assert spec.split_counts() == {"train": 15, "valid": 5, "test": 0}
    else:
        assert spec.class_counts() == COUNTS
    cache = tmp_path / "cache"
    assert all(cache in p.parents for p in spec.items)  # extracted to the cache, never beside the data
    assert sorted(os.listdir(tmp_path)) == ["cache", "dataset.zip", "src"]


def test_zip_extraction_is_reused_until_the_zip_changes(tmp_path):
    archive = zip_folder(make_class_folders(tmp_path / "src", COUNTS), tmp_path / "d.zip")
    first = scan(archive)
    marker = first.data_dir / "cat" / "seen-before.png"
    good_png(marker)
    assert scan(archive).class_counts()["cat"] == 7  # same folder: not extracted again
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("dog/new.png", (tmp_path / "src" / "dog" / "dog_000.png").read_bytes())
    again = scan(archive)
    assert again.data_dir != first.data_dir
    assert again.class_counts() == {"cat": 6, "dog": 6, "owl": 4}


def test_cache_dir_argument_wins(tmp_path):
    archive = zip_folder(make_class_folders(tmp_path / "src", COUNTS), tmp_path / "d.zip")
    spec = scan(archive, cache_dir=tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere") in spec.data_dir.parents


def test_zip_slip_members_are_refused(tmp_path):
    src = make_class_folders(tmp_path / "src", COUNTS)
    archive = zip_folder(src, tmp_path / "evil.zip")
    payload = (src / "cat" / "cat_000.png").read_bytes()
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("../../escaped.png", payload)
        zf.writestr("/abs/escaped.png", payload)
        zf.writestr("cat/../../escaped.png", payload)
        zf.writestr("__MACOSX/cat/._cat_000.png", b"\x00\x05\x16\x07")
        zf.writestr("./", b"")  # harmless: the archive's own top folder
    spec = scan(archive)
    unsafe = [s for s in spec.skipped if s.reason == "unsafe-path"]
    assert len(unsafe) == 3
    assert all(str(s.path).startswith(str(archive)) for s in unsafe)
    assert not list(tmp_path.rglob("escaped.png"))
    assert [s.reason for s in spec.skipped if "__MACOSX" in str(s.path)] == ["hidden"]
    assert spec.class_counts() == COUNTS


def test_damaged_zip_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(DatasetError, match="not a valid zip"):
        scan(bad)
