"""`tlstudio doctor` as a user runs it: JSON with every kind and absolute paths, grouped text, a one-line error."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tlstudio.core.doctor import KINDS

REPO = Path(__file__).resolve().parent.parent


def tlstudio(*args, tmp_path, timeout=240) -> subprocess.CompletedProcess:
    env = {**os.environ, "TLSTUDIO_CACHE_DIR": str(tmp_path / "cache"), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "tlstudio", "doctor", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=timeout)


@pytest.fixture
def dataset(tmp_path, demo_dir):
    """3 classes x 12 train + 4 valid demo images, one copy re-encoded as BMP, one train image leaked into valid."""
    root = tmp_path / "data"
    for cls in ("bag", "sneaker", "trouser"):
        for i, src in enumerate(sorted((demo_dir / cls).glob("*.png"))[:16]):
            dest = root / ("valid" if i < 4 else "train") / cls / src.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
    bag = sorted((root / "train" / "bag").glob("*.png"))
    Image.open(bag[0]).save(root / "train" / "bag" / "again.bmp")
    shutil.copyfile(bag[1], root / "valid" / "bag" / "leaked.png")
    return root


def test_json_lists_every_kind_most_likely_first(dataset, tmp_path):
    result = tlstudio(str(dataset), "--json", "--size", "32", "--device", "cpu", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "completed" and out["passes"] == ["pixels", "features"] and out["images"] == 50
    assert set(out["counts"]) == set(KINDS)
    findings = out["findings"]
    assert all(set(f) >= {"kind", "files", "score", "suggested_label"} for f in findings)
    assert all(Path(p).is_absolute() and Path(p).exists() for f in findings for p in f["files"])
    kinds = [f["kind"] for f in findings]
    assert kinds == sorted(kinds, key=KINDS.index)
    for kind in KINDS:
        scores = [f["score"] for f in findings if f["kind"] == kind]
        assert scores == sorted(scores, reverse=True)
    bag = dataset / "train" / "bag"
    exact = [set(f["files"]) for f in findings if f["kind"] == "exact_duplicate"]
    assert {str(sorted(bag.glob("*.png"))[0]), str(bag / "again.bmp")} in exact
    leaks = [set(f["files"]) for f in findings if f["kind"] == "leak"]
    assert {str(sorted(bag.glob("*.png"))[1]), str(dataset / "valid" / "bag" / "leaked.png")} in leaks
    issues = [f for f in findings if f["kind"] == "label_issue"]
    assert all(f["suggested_label"] in ("bag", "sneaker", "trouser") for f in issues)


def test_text_groups_findings_by_kind_with_counts(dataset, tmp_path):
    result = tlstudio(str(dataset), "--quick", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "50 images; pixels pass" in out
    # the leaked copy is an exact duplicate too
    assert "Exact duplicates (exact_duplicate): 2" in out and "Leaks between splits (leak): 1" in out
    assert "Likely label errors (label_issue): 0" in out
    assert "train/bag/again.bmp" in out and "Exact copies in train and valid" in out
    positions = [out.index(f"({kind}):") for kind in KINDS]
    assert positions == sorted(positions)


def test_a_missing_folder_is_one_line(tmp_path):
    result = tlstudio(str(tmp_path / "nowhere"), tmp_path=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"tlstudio doctor: error: {tmp_path / 'nowhere'} does not exist"]
