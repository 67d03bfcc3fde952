"""scan() on a class folder full of real broken files: each is skipped with the right reason, the good images stay."""
from __future__ import annotations

import os

from broken_files import GOOD_NAMES, ODD_MODES, good_png, make_class_folders, write_broken_set

from tlstudio.core.dataset.scan import scan


def test_every_broken_file_is_skipped_with_its_reason_and_good_images_stay(tmp_path):
    root = make_class_folders(tmp_path / "data", {"dog": 4})
    expected = write_broken_set(root / "cat")
    spec = scan(root)

    got = {s.path.name: s.reason for s in spec.skipped}
    assert got == {name: reason for name, reason in expected.items() if reason != "ok"}
    assert all(s.detail and s.path.name in s.detail for s in spec.skipped)

    kept = {p.name for p, label in zip(spec.items, spec.labels) if label == "cat"}
    assert kept == set(ODD_MODES) | set(GOOD_NAMES)
    assert spec.class_counts() == {"cat": 6, "dog": 4}
    modes = {p.name: m for p, m in zip(spec.items, spec.modes)}
    assert {name: modes[name] for name in ODD_MODES} == {name: m for name, (_, m) in ODD_MODES.items()}
    # accepted odd modes are mentioned, not hidden
    assert any("CMYK" in w and "cmyk.jpg" in w for w in spec.warnings)
    assert any("16-bit" in w for w in spec.warnings)


def test_small_pixel_limit_skips_larger_images(tmp_path):
    root = make_class_folders(tmp_path / "data", {"a": 3, "b": 3}, size=16)
    good_png(root / "a" / "big.png", size=40)
    spec = scan(root, max_pixels=32 * 32)
    assert [(s.path.name, s.reason) for s in spec.skipped] == [("big.png", "too-many-pixels")]
    assert len(spec) == 6


def test_hidden_and_system_folders_are_not_walked(tmp_path):
    root = make_class_folders(tmp_path / "data", {"a": 3, "b": 3})
    for hidden in (root / ".git", root / "__MACOSX", root / "a" / ".thumbnails"):
        hidden.mkdir()
        good_png(hidden / "inside.png")
    (root / "a" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    spec = scan(root)
    assert sorted((s.path.name, s.reason) for s in spec.skipped) == [
        (".git", "hidden"), (".thumbnails", "hidden"), ("Thumbs.db", "hidden"), ("__MACOSX", "hidden"),
    ]
    assert len(spec) == 6


def test_linked_folders_are_followed_once_and_loops_are_reported(tmp_path):
    root = make_class_folders(tmp_path / "data", {"a": 3, "b": 3})
    extra = make_class_folders(tmp_path / "elsewhere", {"c": 3})
    os.symlink(extra / "c", root / "c")  # a class folder that lives elsewhere
    os.symlink("..", root / "a" / "up")  # a folder link back to the dataset: a loop
    spec = scan(root)
    assert spec.class_counts() == {"a": 3, "b": 3, "c": 3}
    assert [(s.path.name, s.reason) for s in spec.skipped] == [("up", "broken-symlink")]
    assert "loop" in spec.skipped[0].detail


def test_non_ascii_and_spaced_folder_names(tmp_path):
    root = make_class_folders(tmp_path / "données à trier", {"chat noir": 3, "狗": 3})
    spec = scan(root)
    assert spec.classes == ["chat noir", "狗"]
    assert all(p.exists() for p in spec.items)


def test_every_reason_the_code_can_give_has_a_title():
    import re
    from pathlib import Path

    import tlstudio.core as core
    from tlstudio.core.dataset.spec import SKIP_REASONS

    source = "".join(
        (Path(core.__file__).parent / "dataset" / f).read_text()
        for f in ("scan.py", "spec.py", "layouts.py", "folders.py", "zip_cache.py", "image_check.py")
    )
    used = set(re.findall(r'_fail\(\s*"([a-z-]+)"', source))
    used |= set(re.findall(r'SkippedFile\([^()]*(?:\([^()]*\))?[^()]*?,\s*"([a-z-]+)"', source))
    assert {"truncated", "zero-bytes", "hidden", "unsafe-path", "broken-symlink"} <= used  # the patterns match
    assert {"missing", "broken-symlink"} <= set(SKIP_REASONS)  # the CSV reader picks one of these by name
    assert used <= set(SKIP_REASONS)
