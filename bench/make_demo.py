"""Write the bundled demo dataset: 10 Fashion-MNIST classes x 60 images, PNG in class folders.

    python bench/make_demo.py [DEST]   (default: resources/demo)

The first 60 images of each class in the training file, so the set is the same
on every machine. Its license and source are in `resources/demo/LICENSE.md`.
"""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fashion_mnist import CLASSES, _wanted, load_part  # noqa: E402

PER_CLASS = 60
DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"


def make_demo(dest: Path = DEMO) -> Path:
    images, labels = load_part("train")
    for i in _wanted(labels, PER_CLASS):
        folder = dest / CLASSES[labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i], "L").save(folder / f"train_{i:05d}.png", optimize=True)
    return dest


if __name__ == "__main__":
    print(make_demo(Path(sys.argv[1]) if len(sys.argv) > 1 else DEMO))
