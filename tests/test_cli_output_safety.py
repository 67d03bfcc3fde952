"""Names cannot forge or clear our output; 100,000 skipped files do not print 100,000 lines; train shows the scan's warnings."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from core.broken_files import good_png, make_class_folders
from core.cli_run import tlstudio
from core.source_digest import digest

from tlstudio.core.printable import printable

REPO = Path(__file__).resolve().parent.parent


def test_printable_escapes_like_ls_b():
    assert printable("plain name.png") == "plain name.png"
    assert printable("é 猫.png") == "é 猫.png"
    assert printable("a\nb\tc\rd\x1b[2J\x00\x7f\x9b") == "a\\nb\\tc\\rd\\033[2J\\000\\177\\233"
    assert printable("evil\u202egnp.exe") == "evil\\u202egnp.exe"
    assert printable(Path("/x/y\n.png")) == "/x/y\\n.png"


def test_names_with_newlines_and_escape_sequences_cannot_forge_the_scan(tmp_path):
    data = make_class_folders(tmp_path / "data", {"cats": 3, "dogs\nSkipped files: none": 3})
    (data / "cats" / "x\x1b[2J\x1b[H.png").write_text("not an image")
    before = digest(tmp_path)
    env = {**os.environ, "TLSTUDIO_CACHE_DIR": str(tmp_path / "cache"), "PYTHONIOENCODING": "utf-8"}
    text = subprocess.run([sys.executable, "-m", "tlstudio", "scan", str(data)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    assert "\x1b" not in text.stdout and "Skipped files: none" not in text.stdout.splitlines()
    assert any(line.split() == ["dogs\\nSkipped", "files:", "none", "2", "1", "0", "3"] for line in text.stdout.splitlines())
    assert ("  not-an-image  cats/x\\033[2J\\033[H.png: 'x\\033[2J\\033[H.png' is not an image (it contains text)"
            in text.stdout.splitlines())
    exact = subprocess.run([sys.executable, "-m", "tlstudio", "scan", str(data), "--json"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=60)
    assert exact.returncode == 0
    data_json = json.loads(exact.stdout)
    assert data_json["classes"] == ["cats", "dogs\nSkipped files: none"]
    assert data_json["skipped"][0]["path"] == "cats/x\x1b[2J\x1b[H.png"
    assert digest(tmp_path) == before


def test_an_error_naming_a_forged_path_stays_one_line(tmp_path, capsys):
    missing = tmp_path / "gone\ntlstudio scan: all good"
    run = tlstudio(capsys, "scan", missing)
    assert run.rc == 2 and run.out == ""
    assert run.err.splitlines() == [f"tlstudio scan: error: {printable(missing)} does not exist"]


@pytest.fixture
def noisy(tmp_path):
    data = make_class_folders(tmp_path / "data", {"a": 2, "b": 2})
    for i in range(30):
        (data / "a" / f"notes_{i:02d}.txt").write_text("x")
    for i in range(2):
        (data / "b" / f"empty_{i}.png").write_bytes(b"")
    return data


def test_many_skipped_files_are_summarised_per_reason(noisy, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    before = digest(noisy)
    run = tlstudio(capsys, "scan", noisy)
    assert run.rc == 0
    start = run.lines.index("Skipped files (32): 30 not-an-image, 2 zero-bytes")
    assert run.lines[start + 1 :] == [
        *[f"  not-an-image  a/notes_{i:02d}.txt: 'notes_{i:02d}.txt' is not an image file" for i in range(5)],
        "  not-an-image  ... and 25 more (--verbose lists them all)",
        "  zero-bytes    b/empty_0.png: 'empty_0.png' is empty (0 bytes)",
        "  zero-bytes    b/empty_1.png: 'empty_1.png' is empty (0 bytes)",
    ]
    verbose = tlstudio(capsys, "scan", noisy, "--verbose")
    assert verbose.rc == 0
    listed = [line for line in verbose.lines if line.startswith("  not-an-image")]
    assert listed == [f"  not-an-image  a/notes_{i:02d}.txt: 'notes_{i:02d}.txt' is not an image file" for i in range(30)]
    assert digest(noisy) == before


def test_train_shows_the_scans_warnings(tmp_path):
    data = make_class_folders(tmp_path / "data", {"a": 4, "b": 4, "solo": 1}, size=32)
    (data / "a" / "nested").mkdir()
    good_png(data / "a" / "nested" / "deep.png", size=32)
    before = digest(data)
    run = subprocess.run([sys.executable, "-m", "tlstudio", "train", str(data), "--freeze-epochs", "0", "--epochs", "0",
                          "--size", "32", "--bs", "4", "--device", "cpu"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        "warning: Images in sub-folders were merged into their class: 'a' (1 sub-folder, e.g. a/nested)",
        "warning: Class 'solo' has only one image; it stays in training and cannot be validated",
    ]
    assert digest(data) == before
