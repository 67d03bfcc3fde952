"""Classify images with a model exported by TL Studio (.onnx or .pt), without TL Studio.

Needs numpy, pillow and either onnxruntime (for .onnx) or torch (for .pt).
The model's sidecar (`<model file>.json`, beside it) gives the classes and
the preprocessing, which repeats fastai's valid-time pipeline step by step:
open as RGB, `Resize` (crop / pad / squish, as below), scale to 0..1,
normalise with the sidecar's mean and std. The model outputs probabilities.

    python predict.py model.onnx image.jpg folder/ [--top-k 3] [--json]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

# This file is copied beside exported models and imports nothing of TL Studio.
IMAGE_SUFFIXES = {".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"}
BATCH = 32  # inference_data.PREDICT_BS: the same batches as the app, for the same float rounding


def sidecar_path(model_path) -> Path:
    """`model.onnx` -> `model.onnx.json`: one sidecar per file, so four formats can share a stem."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".json")


def sha256_file(path) -> str:
    # tlstudio.core.hashing's, again: this file runs beside an export where tlstudio is not installed
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_sidecar(model_path) -> dict:
    """The sidecar, checked against the model file it describes."""
    sidecar = sidecar_path(model_path)
    meta = json.loads(sidecar.read_text(encoding="utf-8"))
    if meta.get("sha256") and meta["sha256"] != sha256_file(model_path):
        raise ValueError(f"{model_path}: the file does not match {sidecar.name} (changed after export?)")
    return meta


def open_image(path) -> Image.Image:
    """As fastai's `PILImage.create`: decode, then convert to RGB."""
    img = Image.open(path)
    img.load()
    return img.convert("RGB")


def resize(img: Image.Image, size: int, method: str) -> Image.Image:
    """fastai's `Resize(size, method)` at valid time (`Resize.encodes` with the
    crop centred): take a window of the target's aspect ratio (crop: the
    largest inside the image; pad: the smallest holding it, the outside filled
    by reflection; squish: the whole image), then resize it bilinearly."""
    w, h = img.size
    if method == "squish":
        return img.resize((size, size), Image.BILINEAR)
    ratio_w, ratio_h = w / size, h / size
    m = (ratio_w if ratio_w > ratio_h else ratio_h) if method == "pad" else (ratio_w if ratio_w < ratio_h else ratio_h)
    cw, ch = int(m * size), int(m * size)
    left, top = int(0.5 * (w - cw)), int(0.5 * (h - ch))
    if left >= 0 or top >= 0 or left + cw <= w or top + ch <= h:
        img = img.crop((max(left, 0), max(top, 0), min(left + cw, w), min(top + ch, h)))
    if left < 0 or top < 0 or left + cw >= w or top + ch >= h:
        pl, pt = max(-left, 0), max(-top, 0)
        pr, pb = max(cw - w + left, 0), max(ch - h + top, 0)
        arr = np.pad(np.asarray(img), ((pt, pb), (pl, pr), (0, 0)), mode="reflect")
        img = Image.fromarray(arr)
    return img.resize((size, size), Image.BILINEAR)


def to_input(images, meta: dict) -> np.ndarray:
    """NCHW float32 batch: pixels / 255, then (x - mean) / std when the model was trained normalised."""
    x = np.stack([np.asarray(img, dtype=np.uint8) for img in images]).transpose(0, 3, 1, 2)
    x = x.astype(np.float32) / np.float32(255.0)
    norm = meta.get("normalization")
    if norm:
        mean = np.asarray(norm["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
        std = np.asarray(norm["std"], dtype=np.float32).reshape(1, -1, 1, 1)
        x = (x - mean) / std
    return np.ascontiguousarray(x, dtype=np.float32)


def preprocess(path, meta: dict) -> Image.Image:
    return resize(open_image(path), int(meta["input_size"]), meta["resize_method"])


class Runtime:
    """The model behind one callable: batch (NCHW float32) -> probabilities."""

    def __init__(self, model_path):
        model_path = Path(model_path)
        self.path = model_path
        if model_path.suffix.lower() == ".onnx":
            import onnxruntime as ort

            self.session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
            self.input_name = self.session.get_inputs()[0].name
            self.name = f"onnxruntime {ort.__version__}"
        else:
            import warnings

            import torch

            with warnings.catch_warnings():  # torch 2.14 marks torch.jit deprecated; .pt files still load
                warnings.simplefilter("ignore", FutureWarning)
                self.module = torch.jit.load(str(model_path), map_location="cpu").eval()
            self.name = f"torch.jit {torch.__version__}"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if hasattr(self, "session"):
            return np.asarray(self.session.run(None, {self.input_name: batch})[0], dtype=np.float32)
        import torch

        with torch.no_grad():
            return self.module(torch.from_numpy(batch)).float().numpy()


def probabilities(runtime: Runtime, meta: dict, paths) -> np.ndarray:
    """One row of class probabilities per image, in order."""
    rows = []
    for start in range(0, len(paths), BATCH):
        images = [preprocess(p, meta) for p in paths[start:start + BATCH]]
        rows.append(runtime(to_input(images, meta)))
    return np.concatenate(rows) if rows else np.zeros((0, len(meta["classes"])), dtype=np.float32)


def expand(args) -> list[Path]:
    out = []
    for p in map(Path, args):
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(p)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Classify images with an exported TL Studio model (.onnx or .pt).")
    parser.add_argument("model", help="the .onnx or .pt file (its .json sidecar beside it)")
    parser.add_argument("images", nargs="+", help="image files or folders of images")
    parser.add_argument("--top-k", type=int, default=3, help="classes listed per image (3)")
    parser.add_argument("--json", action="store_true", help="print JSON, with every class's probability")
    args = parser.parse_args(argv)
    meta = read_sidecar(args.model)
    runtime = Runtime(args.model)
    classes = meta["classes"]
    paths, results, failed = expand(args.images), [], 0
    readable = []
    for p in paths:
        try:
            open_image(p)
            readable.append(p)
        except Exception as exc:  # PIL raises many types for a broken file
            failed += 1
            results.append({"path": str(p), "error": f"cannot read image ({type(exc).__name__}: {exc})"})
    probs = probabilities(runtime, meta, readable)
    for p, row in zip(readable, probs):
        order = np.argsort(-row, kind="stable")[: max(1, args.top_k)]
        results.append({
            "path": str(p), "label": classes[int(order[0])], "prob": float(row[order[0]]),
            "top_k": [[classes[int(j)], float(row[j])] for j in order],
            "probabilities": [float(v) for v in row],
        })
    order = {str(p): i for i, p in enumerate(paths)}
    results.sort(key=lambda r: order[r["path"]])
    if args.json:
        json.dump({"runtime": runtime.name, "classes": classes, "results": results}, sys.stdout)
        print()
    else:
        for r in results:
            if "error" in r:
                print(f"{r['path']}: error: {r['error']}", file=sys.stderr)
            else:
                ranked = ", ".join(f"{label} {prob:.1%}" for label, prob in r["top_k"])
                print(f"{r['path']}: {r['label']} ({r['prob']:.1%})  [{ranked}]")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
