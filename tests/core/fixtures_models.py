"""Session fixtures for the model-registry tests: a tiny real image dataset and its DataLoaders."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tlstudio.core.config import AugmentConfig
from tlstudio.core.dataset.spec import DatasetSpec


@pytest.fixture(scope="session")
def tiny_dls(tmp_path_factory):
    """2 classes x 8 random 32 px PNGs (6 train, 2 valid each), batch size 4."""
    from tlstudio.core.dataset.loaders import make_dataloaders

    root = tmp_path_factory.mktemp("tiny_models")
    rng = np.random.default_rng(0)
    items, labels, splits = [], [], []
    for label in ("circle", "square"):
        (root / label).mkdir()
        for i in range(8):
            path = root / label / f"{i}.png"
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path)
            items.append(path)
            labels.append(label)
            splits.append("valid" if i < 2 else "train")
    spec = DatasetSpec(root, "class-folders", items, labels, splits, ["circle", "square"])
    return make_dataloaders(spec, AugmentConfig(size=32, enabled=False), bs=4)


def meta_learner(dls, arch: str):
    """`build_learner(pretrained=False)` on torch's meta device: the real model
    structure and layer groups, without spending time on weight init."""
    import torch

    from tlstudio.core.models.learner import build_learner

    with torch.device("meta"):
        return build_learner(dls, arch, pretrained=False)


@pytest.fixture
def isolated_hf_cache(tmp_path, monkeypatch):
    """An empty Hugging Face hub cache (where timm keeps downloaded weights), like conftest's TORCH_HOME."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache
