"""Bad CSVs and folders through `tlstudio scan`: one clear line each, the exit status, and the data left byte-identical."""
from __future__ import annotations

import codecs
import os
import subprocess

import pytest
from core.broken_files import good_png, make_class_folders
from core.cli_run import tlstudio
from core.source_digest import digest

from tlstudio.core.dataset.folders import MAX_DEPTH


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_CACHE_DIR", str(tmp_path / "cache"))


def _csv(path, rows, encoding="utf-8"):
    path.write_bytes("\n".join(["file,label", *rows]).encode(encoding) + b"\n")
    return path


def test_csv_paths_outside_its_folder_are_skipped_unread(tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", {"a": 3, "b": 3})
    outside = good_png(tmp_path / "elsewhere.png")
    rows = [f"a/a_{i:03d}.png,a" for i in range(3)] + [f"b/b_{i:03d}.png,b" for i in range(3)]
    rows += ["/etc/passwd,a", "/no/such/file.png,a", "../elsewhere.png,b", "a/../../elsewhere.png,b"]
    labels = _csv(data / "labels.csv", rows)
    before = digest(tmp_path)
    run = tlstudio(capsys, "scan", labels)
    assert run.rc == 0, run.err
    assert "Images:  6 in 2 classes" in run.out
    skipped = [line.split(None, 1) for line in run.lines if line.startswith("  outside-dataset")]
    assert [rest for _, rest in skipped] == [
        "/etc/passwd: labels.csv line 8: '/etc/passwd' lies outside the dataset folder and was not read",
        "/no/such/file.png: labels.csv line 9: '/no/such/file.png' lies outside the dataset folder and was not read",
        f"{outside}: labels.csv line 10: '../elsewhere.png' lies outside the dataset folder and was not read",
        f"{outside}: labels.csv line 11: 'a/../../elsewhere.png' lies outside the dataset folder and was not read",
    ]
    assert "not an image" not in run.out and "does not exist" not in run.out  # nothing said about those files
    allowed = tlstudio(capsys, "scan", labels, "--allow-absolute-paths", "--json")
    assert allowed.rc == 0 and '"images": 7' in allowed.out  # elsewhere.png, once; /etc/passwd is no image
    assert digest(tmp_path) == before


def test_a_csv_that_is_not_utf8_after_the_first_8_kb_names_the_line(tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", {"a": 2, "b": 2})
    rows = [f"a/./a_{i % 2:03d}.png,a" for i in range(700)] + ["b/b_000.png,b", "b/caf\xe9.png,b"]
    labels = _csv(data / "labels.csv", rows, encoding="latin-1")
    assert labels.stat().st_size > 8192
    before = digest(tmp_path)
    run = tlstudio(capsys, "scan", labels)
    assert run.rc == 2 and run.out == ""
    assert run.err.splitlines() == [f"tlstudio scan: error: {labels} is not UTF-8 text: line 703 holds the byte 0xe9 "
                                    "(perhaps Latin-1 or Windows-1252); save it as UTF-8"]
    assert digest(tmp_path) == before


def test_latin1_header_and_utf16_csvs(tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", {"a": 2, "b": 2})
    rows = ["a/a_000.png,a", "a/a_001.png,a", "b/b_000.png,b", "b/b_001.png,b"]
    latin = data / "latin.csv"
    latin.write_bytes("fich\xe9,label\n".encode("latin-1") + "\n".join(rows).encode())
    utf16 = data / "utf16.csv"
    utf16.write_bytes(codecs.BOM_UTF16_LE + "\n".join(["file,label", *rows]).encode("utf-16-le"))
    bare16 = data / "bare16.csv"
    bare16.write_bytes("\n".join(["file,label", *rows]).encode("utf-16-le"))
    before = digest(tmp_path)
    run = tlstudio(capsys, "scan", latin)
    assert run.rc == 2 and run.err.strip() == (f"tlstudio scan: error: {latin} is not UTF-8 text: line 1 holds the "
                                               "byte 0xe9 (perhaps Latin-1 or Windows-1252); save it as UTF-8")
    run = tlstudio(capsys, "scan", utf16)
    assert run.rc == 0 and "Images:  4 in 2 classes" in run.out  # UTF-16 with a byte-order mark is read
    run = tlstudio(capsys, "scan", bare16)
    assert run.rc == 2 and run.err.strip() == (f"tlstudio scan: error: {bare16} is not UTF-8 text (it looks like "
                                               "UTF-16 without a byte-order mark); save it as UTF-8")
    assert digest(tmp_path) == before


def _nest(top, names):
    """Create top/names[0]/names[1]/... through directory handles, so the path may exceed PATH_MAX."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for name in names:
        os.mkdir(name, dir_fd=fd)
        inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)


@pytest.fixture
def deep_tree(tmp_path):
    """Removed by `rm -rf` afterwards: shutil.rmtree, and so pytest's own clean-up
    of old temp folders, recurses and fails on a tree 1,100 folders deep."""
    yield tmp_path / "data"
    subprocess.run(["rm", "-rf", str(tmp_path / "data")], check=True)


def test_folders_nested_over_a_thousand_deep_are_skipped_not_a_recursion_error(deep_tree, tmp_path, capsys):
    data = make_class_folders(deep_tree, {"a": 2, "b": 2})
    _nest(data / "a", ["d"] * 1100)
    before = digest(tmp_path)
    run = tlstudio(capsys, "scan", data)
    assert run.rc == 0, run.err
    deep = data / "a" / os.path.join(*["d"] * (MAX_DEPTH + 1))
    assert f"  too-deep  a/{os.path.relpath(deep, data / 'a')}: 'd' is nested more than {MAX_DEPTH} folders deep; " \
           "it was not scanned" in run.lines
    assert "Images:  4 in 2 classes" in run.out
    assert digest(tmp_path) == before


def test_a_path_longer_than_path_max_skips_that_folder_and_the_scan_goes_on(tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", {"a": 2, "b": 2})
    names = [f"{i:02d}" + "x" * 198 for i in range(int(os.pathconf(tmp_path, "PC_PATH_MAX")) // 200 + 1)]
    _nest(data / "b", names)
    before = digest(tmp_path)
    run = tlstudio(capsys, "scan", data)
    assert run.rc == 0, run.err
    unreadable = [line for line in run.lines if line.startswith("  unreadable")]
    assert len(unreadable) == 1
    assert unreadable[0].endswith("cannot be read (File name too long); it was not scanned"), unreadable[0]
    assert "Images:  4 in 2 classes" in run.out
    assert digest(tmp_path) == before


def test_folder_layout_notes(tmp_path, capsys):
    """An empty class folder is named, sub-folders merged into a class are reported once,
    and loose images with no class folders say so."""
    data = make_class_folders(tmp_path / "data", {"a": 3, "b": 3})
    loose = make_class_folders(tmp_path / "loose", {"x": 30}) / "x"
    (data / "empty").mkdir()
    for sub in ("x", "y"):
        make_class_folders(data / "a" / sub, {"deeper": 1})
    before = digest(tmp_path)
    run = tlstudio(capsys, "scan", data)
    assert run.rc == 0, run.err
    warnings = [line for line in run.lines if line.startswith("  - ")]
    assert "  - Folder 'empty' holds no images, so it is not a class" in warnings
    merged = [w for w in warnings if "sub-folders were merged" in w]
    assert merged == ["  - Images in sub-folders were merged into their class: 'a' (2 sub-folders, e.g. a/x/deeper)"]
    run = tlstudio(capsys, "scan", loose)
    assert run.rc == 2
    assert run.err.strip() == (f"tlstudio scan: error: No class folders found in {loose}: its 30 images lie directly "
                               "in it. Put each class's images in a subfolder named for the class (e.g. cats/ and dogs/)")
    assert digest(tmp_path) == before
