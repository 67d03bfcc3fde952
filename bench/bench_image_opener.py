"""The training-time image opener, checked, against fastai's own `PILImage.create`, side by side.

    python bench/bench_image_opener.py [--repeat 5]

`core.data.open_image` reads each file's header (and last bytes) before it
decodes it, so that one pixel limit holds and a broken file is dropped rather
than replaced. This measures what that costs per image on the demo set (600
Fashion-MNIST PNGs, 28 x 28, in the page cache) and on a set of 64 camera-sized
JPEGs (1024 x 768), the two alternating in rounds so load affects both alike.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from fastai.vision.core import PILImage  # noqa: E402
from PIL import Image  # noqa: E402

from tlstudio.core.dataset.loaders import open_image  # noqa: E402


def per_image_us(opener, paths) -> float:
    start = time.perf_counter()
    for p in paths:
        opener(p)
    return (time.perf_counter() - start) / len(paths) * 1e6


def photos(folder: Path, n: int = 64) -> list[str]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        path = folder / f"photo_{i:02d}.jpg"
        pixels = rng.integers(0, 256, (768 // 16, 1024 // 16, 3), dtype=np.uint8).repeat(16, 0).repeat(16, 1)
        Image.fromarray(pixels).save(path, quality=90)
        out.append(str(path))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    demo = sorted(str(p) for p in (REPO / "resources" / "demo").rglob("*.png"))
    with tempfile.TemporaryDirectory() as tmp:
        sets = {"demo 28x28 PNG": demo, "1024x768 JPEG": photos(Path(tmp))}
        for name, paths in sets.items():
            per_image_us(open_image, paths)  # warm the page cache and both code paths
            per_image_us(PILImage.create, paths)
            fastai_us, ours_us = [], []
            for _ in range(args.repeat):
                fastai_us.append(per_image_us(PILImage.create, paths))
                ours_us.append(per_image_us(open_image, paths))
            f, o = statistics.median(fastai_us), statistics.median(ours_us)
            print(f"{name:>16}: PILImage.create {f:8.1f} us/image, open_image {o:8.1f} us/image, ratio {o / f:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
