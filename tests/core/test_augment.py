"""Augmentation previews come from fastai's pipeline, are seeded, and follow the config."""
from __future__ import annotations

import numpy as np
import pytest
from fixtures_preview import PREVIEW_COLOURS, preview_spec  # noqa: F401  (fixture)
from PIL import Image

from tlstudio.core.config import AUGMENT_PRESETS, AugmentConfig
from tlstudio.core.dataset import previews as augment
from tlstudio.core.dataset.spec import DatasetError

ON = AugmentConfig(size=48)
OFF = AUGMENT_PRESETS["none"].with_(size=48)


def distinct(images: np.ndarray) -> int:
    return len({img.tobytes() for img in images})


def test_grid_is_nine_different_images_when_augmenting_and_nine_equal_when_not(preview_spec):
    on = augment.augmented_grid(preview_spec, ON, item_index=1, seed=3)
    off = augment.augmented_grid(preview_spec, OFF, item_index=1, seed=3)
    assert on.shape == off.shape == (9, 48, 48, 3)
    assert on.dtype == off.dtype == np.uint8
    assert distinct(on) == 9
    assert distinct(off) == 1


def test_without_augmentation_the_preview_is_the_resized_image_denormalized(preview_spec):
    """Decoding undoes Normalize and IntToFloatTensor: pixels come back as the file's."""
    cfg = OFF.with_(size=32, resize_method="squish")
    grid = augment.augmented_grid(preview_spec, cfg, item_index=0, n=1, seed=0)
    expected = np.asarray(Image.open(preview_spec.items[0]).convert("RGB").resize((32, 32), Image.BILINEAR))
    assert np.abs(grid[0].astype(int) - expected.astype(int)).mean() < 3


def test_seed_makes_previews_repeatable_and_a_new_seed_reshuffles(preview_spec):
    a = augment.augmented_grid(preview_spec, ON, item_index=2, seed=7)
    b = augment.augmented_grid(preview_spec, ON, item_index=2, seed=7)
    c = augment.augmented_grid(preview_spec, ON, item_index=2, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    imgs, labels = augment.batch_grid(preview_spec, ON, n=6, seed=7)
    imgs2, labels2 = augment.batch_grid(preview_spec, ON, n=6, seed=7)
    assert np.array_equal(imgs, imgs2) and labels == labels2


@pytest.mark.parametrize(
    "change",
    [dict(max_rotate=45.0), dict(max_lighting=0.6), dict(min_scale=0.5), dict(do_flip=False), dict(size=32)],
)
def test_changing_a_control_changes_the_previews(preview_spec, change):
    base = ON.with_(max_warp=0.0)
    before = augment.augmented_grid(preview_spec, base, item_index=4, seed=11)
    after = augment.augmented_grid(preview_spec, base.with_(**change), item_index=4, seed=11)
    assert before.shape != after.shape or not np.array_equal(before, after)


def test_batch_grid_labels_match_the_images(preview_spec):
    """Each class has its own colour: the label fastai reports must match the picture."""
    images, labels = augment.batch_grid(preview_spec, OFF.with_(resize_method="squish"), n=16, seed=1)
    n_train = preview_spec.split_counts()["train"]
    assert images.shape == (min(16, n_train), 48, 48, 3)
    assert set(labels) == set(PREVIEW_COLOURS)
    for img, label in zip(images, labels):
        mean = img.reshape(-1, 3).mean(0)
        nearest = min(PREVIEW_COLOURS, key=lambda c: np.abs(mean - PREVIEW_COLOURS[c]).sum())
        assert nearest == label


def test_batch_sample_names_each_tiles_training_image(preview_spec):
    squish = OFF.with_(resize_method="squish")  # "crop" takes a random square of these 64x48 images
    sample = augment.batch_sample(preview_spec, squish, n=8, seed=2)
    assert len(set(sample.item_indices)) == 8
    for i, label in zip(sample.item_indices, sample.labels):
        assert preview_spec.splits[i] == "train" and preview_spec.labels[i] == label
    # Without augmentation the tile is that image, resized: the same as its own grid.
    first = augment.augmented_grid(preview_spec, squish, sample.item_indices[0], n=1)
    assert np.array_equal(first[0], sample.images[0])


def test_augmentation_changes_reuse_the_cached_loaders(preview_spec):
    augment.clear_cache()
    dls = augment.preview_loaders(preview_spec, ON)
    assert augment.preview_loaders(preview_spec, AUGMENT_PRESETS["strong"].with_(size=48)) is dls
    assert augment.preview_loaders(preview_spec, ON.with_(size=40)) is not dls
    assert augment.preview_loaders(preview_spec, ON.with_(resize_method="pad")) is not dls


def test_pipeline_summary_names_fastai_transforms(preview_spec):
    lines = augment.pipeline_summary(preview_spec, AUGMENT_PRESETS["strong"])
    text = "\n".join(lines)
    assert "Resize" in text and "RandomResizedCropGPU" in text and "Normalize" in text
    assert "rotate" in text and "brightness" in text
    assert not any("Flip" in line for line in augment.pipeline_summary(preview_spec, OFF))


def test_pipeline_summary_normalizes_as_the_architecture_trains(preview_spec):
    """The line the Augment page shows names the statistics training uses."""
    from tlstudio.core.dataset.loaders import batch_tfms
    from tlstudio.core.models.registry import get_arch

    for arch in ("tf_efficientnet_lite0", "mobilenet_v2"):
        info = get_arch(arch)
        shown = augment.pipeline_summary(preview_spec, ON, arch)[-1]
        trained = batch_tfms(ON, (list(info.mean), list(info.std)))[-1]
        assert shown == f"batch: Normalize(mean={[round(float(v), 3) for v in trained.mean.flatten()]}, " \
            f"std={[round(float(v), 3) for v in trained.std.flatten()]})"
    assert "mean=[0.5, 0.5, 0.5]" in augment.pipeline_summary(preview_spec, ON, "tf_efficientnet_lite0")[-1]
    assert "mean=[0.485, 0.456, 0.406]" in augment.pipeline_summary(preview_spec, ON, "mobilenet_v2")[-1]


def test_a_missing_image_number_is_a_clear_error(preview_spec):
    with pytest.raises(DatasetError, match="no image number 999"):
        augment.augmented_grid(preview_spec, ON, item_index=999)
