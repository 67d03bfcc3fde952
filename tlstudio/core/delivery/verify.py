"""Prove an exported file predicts like the model in memory: reload it in a
fresh process with its own runtime and compare, image file by image file.

- `.tlsmodel`: the app (`python -m tlstudio.core.delivery.verify_child`);
- `.pkl`: plain fastai `load_learner`, in an isolated interpreter (`-I`, a
  folder outside the app) where importing tlstudio is made impossible, so the
  file is proven to need nothing of ours;
- `.onnx` / `.pt`: the predict.py written beside them (onnxruntime / torch.jit),
  which is the standalone script users run.

Each reads the images from their files through its own preprocessing. The
file is verified when top-1 agrees on every image and no probability differs
by more than the format's tolerance.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TOLERANCE = {"tlsmodel": 1e-5, "pkl": 1e-5, "torchscript": 1e-5, "onnx": 1e-4}
RUNTIME = {
    "tlsmodel": "TL Studio",
    "pkl": "plain fastai load_learner, tlstudio not importable",
    "onnx": "onnxruntime via predict.py",
    "torchscript": "torch.jit.load via predict.py",
}
VERIFY_MAX_ITEMS = 64
TIMEOUT_S = 600

# Run with `python -I -c`: makes tlstudio unimportable, proves it, then loads
# the pickle with fastai alone and prints the probabilities as JSON.
PLAIN_FASTAI = r"""
import importlib.util, json, sys, warnings
class NoTLStudio:
    def find_spec(self, name, path=None, target=None):
        if name == "tlstudio" or name.startswith("tlstudio."):
            raise ModuleNotFoundError("tlstudio is not importable here", name=name)
        return None
sys.meta_path.insert(0, NoTLStudio())
try:
    import tlstudio
    importable = True
except ModuleNotFoundError:
    importable = False
warnings.simplefilter("ignore")
from fastai.learner import load_learner
model, listing = sys.argv[1], sys.argv[2]
paths = json.load(open(listing, encoding="utf-8"))
learn = load_learner(model, cpu=True)
with learn.no_bar():
    probs, _ = learn.get_preds(dl=learn.dls.test_dl(paths))
print(json.dumps({"tlstudio_importable": importable, "loaded_tlstudio": any(m.startswith("tlstudio") for m in sys.modules),
                  "classes": [str(c) for c in learn.dls.vocab], "probabilities": probs.float().tolist()}))
"""


@dataclass(frozen=True)
class Verification:
    format: str
    runtime: str  # what reloaded the file
    n_checked: int  # images compared
    max_prob_diff: float  # largest absolute probability difference (nan when nothing ran)
    mismatches: int  # images whose top-1 class differed
    tolerance: float
    error: str | None = None  # why the fresh process could not predict, when it could not

    @property
    def verified(self) -> bool:
        return (self.error is None and self.n_checked > 0 and self.mismatches == 0
                and self.max_prob_diff <= self.tolerance)

    def figures(self) -> str:
        if self.error:
            return f"{self.runtime}: FAILED: {self.error}"
        return (f"{self.runtime}: {self.n_checked} images, top-1 {'identical' if not self.mismatches else f'differs on {self.mismatches}'}, "
                f"max prob diff {self.max_prob_diff:.1e} (tolerance {self.tolerance:.0e})")

    def as_dict(self) -> dict:
        return {
            "verified": self.verified, "runtime": self.runtime, "n_checked": self.n_checked,
            "mismatches": self.mismatches, "tolerance": self.tolerance, "error": self.error,
            "max_prob_diff": None if np.isnan(self.max_prob_diff) else self.max_prob_diff,
        }


def _app_env() -> dict:
    """The environment for a child that must import this very tlstudio (not another install)."""
    import tlstudio

    env = dict(os.environ)
    here = str(Path(tlstudio.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env


def fresh_process_probabilities(fmt: str, model_path: Path, images: list[Path], workdir: Path) -> tuple[np.ndarray, list[str]]:
    """(probabilities, classes) as a new process with the format's own runtime computes them."""
    listing = workdir / "images.json"
    listing.write_text(json.dumps([str(p) for p in images]), encoding="utf-8")
    if fmt == "pkl":
        cmd, env = [sys.executable, "-I", "-c", PLAIN_FASTAI, str(model_path), str(listing)], None
    elif fmt == "tlsmodel":
        cmd, env = [sys.executable, "-m", "tlstudio.core.delivery.verify_child", str(model_path), str(listing)], _app_env()
    else:
        script = model_path.with_name("predict.py")
        cmd, env = [sys.executable, "-I", str(script), str(model_path), *map(str, images), "--json", "--top-k", "1"], None
    done = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"exit status {done.returncode}: {tail[:300]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if fmt == "pkl" and (out["tlstudio_importable"] or out["loaded_tlstudio"]):
        raise RuntimeError("the check process could import tlstudio, so it proves nothing about plain fastai")
    if "results" in out:  # predict.py
        rows = [r.get("probabilities") for r in out["results"]]
        if any(r is None for r in rows):
            raise RuntimeError(next(r["error"] for r in out["results"] if "error" in r))
        return np.asarray(rows, dtype=np.float64), out["classes"]
    return np.asarray(out["probabilities"], dtype=np.float64), out["classes"]


def verify_file(fmt: str, model_path: Path, images: list[Path], reference: np.ndarray, classes: list[str]) -> Verification:
    """Compare `reference` (rows for `images`, columns `classes`) with what a fresh process gets from the file."""
    tolerance, runtime = TOLERANCE[fmt], RUNTIME[fmt]
    if not images:
        return Verification(fmt, runtime, 0, float("nan"), 0, tolerance, "no images to compare on")
    with tempfile.TemporaryDirectory(prefix="tlstudio-verify-") as work:
        try:
            theirs, their_classes = fresh_process_probabilities(fmt, Path(model_path).resolve(), images, Path(work))
        except (RuntimeError, subprocess.TimeoutExpired, ValueError, KeyError, OSError) as exc:
            return Verification(fmt, runtime, 0, float("nan"), 0, tolerance, str(exc))
    if list(their_classes) != list(classes) or theirs.shape != reference.shape:
        return Verification(fmt, runtime, 0, float("nan"), 0, tolerance,
                            f"the file's classes or output shape differ ({len(their_classes)} classes, {theirs.shape})")
    diff = float(np.abs(theirs - reference).max())
    mismatches = int((theirs.argmax(1) != reference.argmax(1)).sum())
    return Verification(fmt, runtime, len(images), diff, mismatches, tolerance)
