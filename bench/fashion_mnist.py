"""Write Debian's dataset-fashion-mnist (IDX files) as PNG images in class folders.

    python bench/fashion_mnist.py DEST [--per-class N] [--splits]

Without `--splits`, all 70,000 images (training and test files together) go
into `DEST/<class>/`. With `--splits`, the 60,000 training images go into
`DEST/train/<class>/` and the 10,000 official test images into
`DEST/valid/<class>/`. `--per-class N` keeps the first N images of each class
from each source file. Fashion-MNIST is MIT licensed (Zalando Research).
"""
from __future__ import annotations

import argparse
import gzip
import os
import struct
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SOURCE = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
CLASSES = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle-boot",
)
PARTS = (("train", "train"), ("t10k", "valid"))  # IDX file prefix, split folder


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_part(prefix: str, source: Path = SOURCE) -> tuple[np.ndarray, np.ndarray]:
    images = source / f"{prefix}-images-idx3-ubyte.gz"
    if not images.exists():
        raise SystemExit(f"{images} is missing: install it with `apt-get install -y dataset-fashion-mnist`")
    return read_idx(images), read_idx(source / f"{prefix}-labels-idx1-ubyte.gz")


def _wanted(labels: np.ndarray, per_class: int | None) -> list[int]:
    if per_class is None:
        return list(range(len(labels)))
    picked: list[int] = []
    for c in range(len(CLASSES)):
        picked += np.flatnonzero(labels == c)[:per_class].tolist()
    return sorted(picked)


def _already_written(folder: Path, counts: dict[str, int]) -> bool:
    try:
        return all(
            sum(1 for e in os.scandir(folder / name) if e.name.endswith(".png")) == n
            for name, n in counts.items()
        )
    except OSError:
        return False


def write_fashion_mnist(dest, per_class: int | None = None, splits: bool = False) -> Path:
    """Write the images (once: an existing complete copy is reused) and return `dest`."""
    dest = Path(dest)
    plan: dict[Path, list[tuple[str, np.ndarray, np.ndarray, list[int]]]] = {}
    for prefix, split in PARTS:
        images, labels = load_part(prefix)
        folder = dest / split if splits else dest
        plan.setdefault(folder, []).append((prefix, images, labels, _wanted(labels, per_class)))
    for folder, parts in plan.items():
        counts = {name: 0 for name in CLASSES}
        for _, _, labels, wanted in parts:
            for i in wanted:
                counts[CLASSES[labels[i]]] += 1
        if _already_written(folder, counts):
            continue
        for name in CLASSES:
            (folder / name).mkdir(parents=True, exist_ok=True)
        for prefix, images, labels, wanted in parts:
            for i in wanted:
                path = folder / CLASSES[labels[i]] / f"{prefix}_{i:05d}.png"
                Image.fromarray(images[i], "L").save(path, optimize=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--per-class", type=int, default=None, help="images per class from each source file")
    parser.add_argument("--splits", action="store_true", help="write train/ and valid/ folders")
    args = parser.parse_args(argv)
    out = write_fashion_mnist(args.dest, per_class=args.per_class, splits=args.splits)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
