"""A tiny three-colour dataset for the augmentation and model-page tests.

Each class has its own dominant colour, so a decoded preview image can be
checked against its label without looking at pixels by hand.
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tlstudio.core.dataset.spec import DatasetSpec

PREVIEW_COLOURS = {"blue": (40, 60, 210), "green": (40, 190, 60), "red": (210, 40, 40)}


def make_preview_spec(root, per_class: int = 8, size: tuple[int, int] = (64, 48)) -> DatasetSpec:
    rng = np.random.default_rng(0)
    items, labels, splits = [], [], []
    w, h = size
    for label, colour in PREVIEW_COLOURS.items():
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = np.empty((h, w, 3), np.uint8)
            img[:] = colour
            # An off-centre bar and some noise, so flips, rotations and crops change the pixels.
            img[4 : h // 2, 6 : w // 3] = 255
            img = np.clip(img + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
            path = folder / f"{label}_{i}.png"
            Image.fromarray(img).save(path)
            items.append(path)
            labels.append(label)
            splits.append("valid" if i % 4 == 0 else "train")
    return DatasetSpec(root, "class-folders", items, labels, splits, sorted(PREVIEW_COLOURS))


@pytest.fixture(scope="session")
def preview_spec(tmp_path_factory) -> DatasetSpec:
    return make_preview_spec(tmp_path_factory.mktemp("preview-data"))
