"""The window's process never imports torch, fastai, torchvision or timm: the whole workflow
runs in a fresh process (this one has them loaded by other tests) and names what it imported."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("window_workflow.py")


@pytest.mark.timeout(1500)  # a real workflow, training included, in a process of its own
def test_the_whole_workflow_leaves_the_window_without_torch_or_fastai(demo_dir, tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(SCRIPT.parents[2])}
    done = subprocess.run([sys.executable, str(SCRIPT), str(demo_dir), str(tmp_path)], capture_output=True,
                          text=True, timeout=1500, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    # Every step really ran, in the engine process.
    assert facts["previews"] > 0 and facts["groups"] > 0 and facts["lr_points"] > 0
    assert facts["train_status"] == "completed" and facts["evaluated"] > 0
    assert facts["exported"] is True and (tmp_path / "demo.tlsmodel").is_file() and facts["predicted"] > 0
    assert facts["heavy"] == []
