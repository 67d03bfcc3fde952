"""The issue's "done when", from a clean setup, as a user runs it: train on the demo set, export all
four formats (each verified, with its figures), `tlstudio predict` on the ONNX file gives the same
labels as on the .tlsmodel, and the standalone predict.py agrees."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from test_cli_train import tlstudio

FIGURES = re.compile(r"verified: reloaded in a fresh process \((?P<runtime>[^)]*)\), it predicts like the model on "
                     r"(?P<n>\d+) images: top-1 identical, max prob diff (?P<diff>[0-9.e+-]+) \(tolerance (?P<tol>[0-9.e+-]+)\)")
TOLERANCE = {".tlsmodel": 1e-5, ".pkl": 1e-5, ".pt": 1e-5, ".onnx": 1e-4}


def labels(predictions: list[dict]) -> dict[str, str]:
    return {str(Path(p["path"])): p["label"] for p in predictions}


def test_train_export_all_formats_predict_and_standalone_agree(demo_dir, tmp_path):
    out = tmp_path / "models"
    own = out / "demo.tlsmodel"
    run = tlstudio("train", demo_dir, "--size", "32", "--bs", "32", "--freeze-epochs", "1", "--epochs", "1",
                   "--device", "cpu", "--export", own, cwd=tmp_path, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    runs = {".tlsmodel": run}
    for suffix in (".pkl", ".onnx", ".pt"):
        runs[suffix] = tlstudio("export", own, out / f"demo{suffix}", cwd=tmp_path, timeout=600)
        assert runs[suffix].returncode == 0, runs[suffix].stderr[-3000:]
    n_valid = None
    for suffix, done in runs.items():
        figures = FIGURES.search(done.stderr)
        assert figures, done.stderr[-2000:]
        assert float(figures["diff"]) <= TOLERANCE[suffix] and float(figures["tol"]) == TOLERANCE[suffix]
        side = json.loads((out / f"demo{suffix}.json").read_text(encoding="utf-8"))
        assert side["verification"]["verified"] is True and side["verification"]["mismatches"] == 0
        assert side["verification"]["n_checked"] == int(figures["n"]) > 0
        n_valid = n_valid or int(figures["n"])
        assert int(figures["n"]) == n_valid, "every format checked on the same held-out images"
    assert "onnxruntime" in FIGURES.search(runs[".onnx"].stderr)["runtime"]
    assert "plain fastai" in FIGURES.search(runs[".pkl"].stderr)["runtime"]

    images = sorted(demo_dir.glob("*/*.png"))[::20]  # 30 images across the classes
    predicted = {}
    for suffix in (".tlsmodel", ".onnx", ".pt", ".pkl"):
        done = tlstudio("predict", out / f"demo{suffix}", *images, "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        predicted[suffix] = labels(json.loads(done.stdout))
    assert len(predicted[".tlsmodel"]) == len(images)
    assert predicted[".onnx"] == predicted[".tlsmodel"]
    assert predicted[".pt"] == predicted[".tlsmodel"] and predicted[".pkl"] == predicted[".tlsmodel"]

    for suffix in (".onnx", ".pt"):  # predict.py with nothing of the app: isolated, from another folder
        done = subprocess.run([sys.executable, "-I", str(out / "predict.py"), str(out / f"demo{suffix}"),
                               *map(str, images), "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert labels(json.loads(done.stdout)["results"]) == predicted[".tlsmodel"]
