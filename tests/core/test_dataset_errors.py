"""scan() refuses bad input with one clear sentence that names the path and says what is expected."""
from __future__ import annotations

import os

import pytest
from broken_files import good_png, make_class_folders, text_named_jpg

from tlstudio.core.dataset import layouts as dataset_layouts
from tlstudio.core.dataset.scan import scan
from tlstudio.core.dataset.spec import DatasetError
from tlstudio.core.errors import UserFacingError


def test_path_does_not_exist(tmp_path):
    with pytest.raises(DatasetError, match=r"nowhere does not exist"):
        scan(tmp_path / "nowhere")


def test_no_images_says_which_layouts_are_expected(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"No images found in .*empty\. Expected one subfolder per class"):
        scan(tmp_path / "empty")


def test_no_usable_images_lists_what_was_skipped(tmp_path):
    for label in ("a", "b"):
        (tmp_path / "d" / label).mkdir(parents=True)
        text_named_jpg(tmp_path / "d" / label / "x.jpg")
    with pytest.raises(DatasetError, match=r"Skipped: 2 not-an-image"):
        scan(tmp_path / "d")


def test_only_one_class(tmp_path):
    root = make_class_folders(tmp_path / "d", {"cats": 4})
    with pytest.raises(DatasetError, match=r"only one class \('cats', 4 images\)"):
        scan(root)


def test_images_directly_in_the_folder_are_not_a_class(tmp_path):
    for i in range(3):
        good_png(tmp_path / f"{i}.png")
    with pytest.raises(DatasetError, match=r"^No class folders found in .*: its 3 images lie directly in it\. "
                       r"Put each class's images in a subfolder named for the class"):
        scan(tmp_path)


def test_single_image_dropped(tmp_path):
    path = good_png(tmp_path / "photo.png")
    with pytest.raises(DatasetError, match=r"photo\.png is a single image; drop a folder"):
        scan(path)


def test_other_file_dropped(tmp_path):
    (tmp_path / "notes.docx").write_bytes(b"PK")
    with pytest.raises(DatasetError, match=r"not a folder, a \.zip archive or a \.csv file"):
        scan(tmp_path / "notes.docx")


def test_csv_without_the_columns(tmp_path):
    (tmp_path / "x.csv").write_text("name,age\nann,3\n")
    with pytest.raises(DatasetError, match=r"x\.csv is not a label file: it needs a header row with 'file' and 'la"):
        scan(tmp_path / "x.csv")


def test_bad_fractions(tmp_path):
    root = make_class_folders(tmp_path / "d", {"a": 2, "b": 2})
    with pytest.raises(DatasetError, match="fractions"):
        scan(root, valid_pct=0.7, test_pct=0.4)


def _refuse_scandir(monkeypatch, locked):
    """Running as root, permissions are not enforced, so refuse as the OS would."""
    if not os.access(locked, os.R_OK):
        return
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real(path)

    monkeypatch.setattr(dataset_layouts.os, "scandir", scandir)


def test_unreadable_sub_folder_is_skipped_and_the_scan_goes_on(tmp_path, monkeypatch):
    root = make_class_folders(tmp_path / "d", {"a": 2, "b": 2, "c": 2})
    locked = root / "b"
    os.chmod(locked, 0)
    try:
        _refuse_scandir(monkeypatch, locked)
        spec = scan(root)
    finally:
        os.chmod(locked, 0o755)
    assert spec.classes == ["a", "c"]
    assert [(s.path, s.reason, s.detail) for s in spec.skipped] == [
        (locked, "unreadable", "the folder 'b' cannot be read (Permission denied); it was not scanned")
    ]


def test_unreadable_dataset_folder(tmp_path, monkeypatch):
    root = make_class_folders(tmp_path / "d", {"a": 2, "b": 2})
    os.chmod(root, 0)
    try:
        _refuse_scandir(monkeypatch, root)
        with pytest.raises(DatasetError, match=r"Cannot read the folder .*/d: permission denied"):
            scan(root)
    finally:
        os.chmod(root, 0o755)


def test_dataset_errors_are_user_facing():
    assert issubclass(DatasetError, UserFacingError)
