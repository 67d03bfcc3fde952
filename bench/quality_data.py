"""The offline datasets of the model-quality benchmark, written once as PNGs in
train/valid/test class folders under `bench/out/quality/<name>/`.

- `fashion`: Fashion-MNIST, 200 train + 50 valid per class from the official
  training file, 50 test per class from the official test file (28 px, gray);
- `demo`: the bundled demo set (`resources/demo`, 10 x 60), split 36/12/12 per
  class with a fixed seed;
- `digits`: scikit-learn's 8 x 8 digits (1,797 images), upscaled to 32 px,
  split 60/20/20 per class with a fixed seed;
- `textures`: 64 px random crops of scikit-image's sample photos (brick,
  grass, gravel, moon surface, cells, retina), in gray so colour gives nothing
  away; train, valid and test crops come from separate bands of each photo
  (rows 0-60%, 60-80%, 80-100%), so no test crop overlaps a training crop.

The split is the same for every seed; the seed changes training only.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
OUT = REPO / "bench" / "out" / "quality"
SPLIT_SEED = 0
SPLITS = ("train", "valid", "test")


def _save(root: Path, split: str, label: str, name: str, array: np.ndarray) -> None:
    folder = root / split / label
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(folder / f"{name}.png")


def _split_per_class(n: int, fractions: tuple[float, float]) -> list[str]:
    n_train, n_valid = round(n * fractions[0]), round(n * fractions[1])
    return ["train"] * n_train + ["valid"] * n_valid + ["test"] * (n - n_train - n_valid)


def write_fashion(root: Path) -> None:
    from fashion_mnist import CLASSES, load_part

    for prefix, wanted in (("train", (("train", 200), ("valid", 50))), ("t10k", (("test", 50),))):
        images, labels = load_part(prefix)
        for c, label in enumerate(CLASSES):
            idx = iter(np.flatnonzero(labels == c))
            for split, n in wanted:
                for _ in range(n):
                    i = next(idx)
                    _save(root, split, label, f"{prefix}_{i:05d}", images[i])


def write_demo(root: Path) -> None:
    rng = random.Random(SPLIT_SEED)
    for folder in sorted(p for p in (REPO / "resources" / "demo").iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.png"))
        rng.shuffle(files)
        for path, split in zip(files, _split_per_class(len(files), (0.6, 0.2))):
            _save(root, split, folder.name, path.stem, np.asarray(Image.open(path)))


def write_digits(root: Path) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = random.Random(SPLIT_SEED)
    for c in range(10):
        idx = [int(i) for i in np.flatnonzero(digits.target == c)]
        rng.shuffle(idx)
        for i, split in zip(idx, _split_per_class(len(idx), (0.6, 0.2))):
            small = (digits.images[i] * (255 / 16)).astype(np.uint8)
            big = np.asarray(Image.fromarray(small).resize((32, 32), Image.BILINEAR))
            _save(root, split, str(c), f"digit_{i:04d}", big)


TEXTURES = ("brick", "grass", "gravel", "moon", "cell", "retina")
CROP = 64
CROPS = {"train": 60, "valid": 20, "test": 20}
BANDS = {"train": (0.0, 0.6), "valid": (0.6, 0.8), "test": (0.8, 1.0)}


def write_textures(root: Path) -> None:
    import skimage.data
    from skimage.color import rgb2gray

    rng = np.random.default_rng(SPLIT_SEED)
    for name in TEXTURES:
        image = getattr(skimage.data, name)()
        if image.ndim == 3:
            image = (rgb2gray(image[..., :3]) * 255).astype(np.uint8)
        h, w = image.shape
        for split, n in CROPS.items():
            top, bottom = (int(h * f) for f in BANDS[split])
            for k in range(n):
                y = int(rng.integers(top, bottom - CROP + 1))
                x = int(rng.integers(0, w - CROP + 1))
                _save(root, split, name, f"{name}_{k:03d}", image[y : y + CROP, x : x + CROP])


WRITERS = {"fashion": write_fashion, "demo": write_demo, "digits": write_digits, "textures": write_textures}


def dataset(name: str):
    """The DatasetSpec of `name`, writing its images first when needed."""
    from tlstudio.core.dataset.scan import scan

    root = OUT / name
    done = root / ".complete"
    if not done.exists():
        WRITERS[name](root)
        done.write_text("ok\n")
    spec = scan(root)
    assert set(spec.splits) == set(SPLITS), f"{root}: expected train, valid and test folders"
    return spec


if __name__ == "__main__":
    for key in sys.argv[1:] or WRITERS:
        s = dataset(key)
        print(key, len(s), s.split_counts())
