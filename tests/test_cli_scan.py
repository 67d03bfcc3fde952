"""`tlstudio scan` as a user runs it: text and JSON on a folder of broken files, and a clean one-line error."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from core.broken_files import make_class_folders, write_broken_set

REPO = Path(__file__).resolve().parent.parent


def tlstudio(*args, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TLSTUDIO_CACHE_DIR": str(tmp_path / "cache"), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "tlstudio", "scan", *args],
        cwd=REPO, env=env, capture_output=True, text=True, encoding="utf-8", timeout=60,
    )


@pytest.fixture
def broken_dataset(tmp_path):
    root = make_class_folders(tmp_path / "photos", {"dog": 5})
    expected = write_broken_set(root / "cat")
    return root, expected


def test_text_output_lists_classes_and_every_skipped_file(broken_dataset, tmp_path):
    root, expected = broken_dataset
    result = tlstudio(str(root), "--valid-pct", "0.4", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "11 in 2 classes" in out and "train 7, valid 4, test 0" in out
    assert any(line.split() == ["cat", "4", "2", "0", "6"] for line in out.splitlines())
    assert any(line.split() == ["dog", "3", "2", "0", "5"] for line in out.splitlines())
    skipped = {name: reason for name, reason in expected.items() if reason != "ok"}
    assert f"Skipped files ({len(skipped)}):" in out
    for name, reason in skipped.items():
        assert any(line.split()[:1] == [reason] and f"cat/{name}:" in line for line in out.splitlines()), name


def test_json_output(broken_dataset, tmp_path):
    root, expected = broken_dataset
    result = tlstudio(str(root), "--json", "--seed", "3", "--test-pct", "0.2", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["layout"] == "class-folders" and data["seed"] == 3
    assert data["classes"] == ["cat", "dog"] and data["class_counts"] == {"cat": 6, "dog": 5}
    assert sum(data["split_counts"].values()) == data["images"] == 11
    assert data["counts"]["test"]["cat"] >= 1
    assert {Path(s["path"]).name: s["reason"] for s in data["skipped"]} == {
        name: reason for name, reason in expected.items() if reason != "ok"
    }
    assert any("CMYK" in w for w in data["warnings"])


def test_error_is_one_line_without_traceback(tmp_path):
    result = tlstudio(str(tmp_path / "missing folder"), tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"tlstudio scan: error: {tmp_path / 'missing folder'} does not exist"]
    assert "Traceback" not in result.stderr
