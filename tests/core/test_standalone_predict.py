"""predict.py's preprocessing repeats fastai's valid-time pipeline (Resize crop / pad / squish, scaling, normalisation)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tlstudio.core.delivery import standalone_predict as sp
from tlstudio.core.delivery.inference_data import inference_dataloaders


@pytest.fixture(scope="module")
def odd_images(tmp_path_factory):
    """Non-square images of both orientations, odd sizes, RGB, grey and RGBA."""
    folder = tmp_path_factory.mktemp("odd")
    rng = np.random.default_rng(0)
    paths = []
    for i, (w, h, mode) in enumerate([(57, 31, "RGB"), (23, 64, "L"), (40, 40, "RGBA"), (101, 9, "RGB"), (12, 33, "RGB")]):
        arr = rng.integers(0, 256, size=(h, w, len(mode)) if mode != "L" else (h, w), dtype=np.uint8)
        path = folder / f"img{i}.png"
        Image.fromarray(arr, mode).save(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize("method", ["crop", "pad", "squish"])
@pytest.mark.parametrize("normalization", [None, {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}])
def test_preprocessing_matches_fastai(odd_images, method, normalization):
    meta = {"classes": ["a", "b"], "input_size": 24, "resize_method": method, "normalization": normalization}
    dls = inference_dataloaders(meta, device="cpu")
    fastai_batch = dls.test_dl(odd_images, bs=len(odd_images)).one_batch()[0].numpy()
    ours = sp.to_input([sp.preprocess(p, meta) for p in odd_images], meta)
    assert ours.shape == fastai_batch.shape == (len(odd_images), 3, 24, 24) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, fastai_batch, atol=1e-6, rtol=0)


def test_the_methods_really_differ(odd_images):
    """Guards the test above: on a wide image crop, pad and squish give three different inputs."""
    outs = {m: np.asarray(sp.resize(sp.open_image(odd_images[0]), 24, m), dtype=np.int16) for m in ("crop", "pad", "squish")}
    assert all(np.abs(outs[a] - outs[b]).max() > 20 for a, b in (("crop", "pad"), ("crop", "squish"), ("pad", "squish")))


def test_predict_py_runs_the_batches_the_app_runs():
    """A convolution's rounding depends on its batch; verification compares to 1e-5."""
    from tlstudio.core.delivery import inference_data, standalone_predict

    assert standalone_predict.BATCH == inference_data.PREDICT_BS
