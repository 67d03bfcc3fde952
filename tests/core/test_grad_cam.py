"""Grad-CAM on a real trained model: the map covers the object, whatever quadrant it sits in."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tlstudio.core.config import AugmentConfig
from tlstudio.core.delivery.grad_cam import grad_cam
from tlstudio.core.training import run as training


@pytest.fixture(scope="module")
def learn(tiny_spec, tiny_config):
    # 128 px: mobilenet_v2's body then gives a 4 x 4 map (at the tiny config's 32 px, 1 x 1).
    config = tiny_config.with_(augment=AugmentConfig(size=128, enabled=False), freeze_epochs=2, epochs=0)
    result = training.run(tiny_spec, config, None)
    assert result.status == "completed"
    return result.learn


def _in_corner(path, corner: int, dest):
    """The 28 px image in one quadrant of a black 56 px square, saved as `dest`."""
    canvas = Image.new("L", (56, 56))
    canvas.paste(Image.open(path).convert("L"), ((corner % 2) * 28, (corner // 2) * 28))
    canvas.save(dest)
    return dest


@pytest.mark.parametrize("corner", [0, 1, 2, 3])
def test_the_map_lies_on_the_object(learn, tiny_spec, corner, tmp_path):
    bag = next(p for p, l, s in zip(tiny_spec.items, tiny_spec.labels, tiny_spec.splits) if l == "bag" and s == "valid")
    was_training = learn.model.training
    cam = grad_cam(learn, _in_corner(bag, corner, tmp_path / "bag.png"), target=learn.dls.vocab.o2i["bag"])
    assert cam.heatmap.shape == (128, 128) and cam.heatmap.dtype == np.float32
    assert cam.heatmap.min() >= 0 and cam.heatmap.max() == pytest.approx(1.0)
    assert cam.label == "bag" and 0 <= cam.probability <= 1
    quadrants = [cam.heatmap[r * 64 : (r + 1) * 64, c * 64 : (c + 1) * 64].sum() for r in (0, 1) for c in (0, 1)]
    # Most of the map lies in the bag's half and far more in its quadrant than in the empty opposite one
    # (the body's 4 x 4 grid is coarse: its cells straddle the quadrants' borders).
    row, opposite = corner // 2, 3 - corner
    assert sum(quadrants[2 * row : 2 * row + 2]) > 2 / 3 * sum(quadrants), quadrants
    assert quadrants[corner] > 2 * quadrants[opposite], quadrants
    assert learn.model.training == was_training
    assert all(not p.requires_grad for p in learn.model[0].parameters() if p.ndim > 1)  # the body stays frozen


def test_the_predicted_class_by_default(learn, tiny_spec):
    sneaker = next(p for p, l in zip(tiny_spec.items, tiny_spec.labels) if l == "sneaker")
    cam = grad_cam(learn, sneaker)
    from tlstudio.core.delivery.inference_data import test_items

    probs, _ = learn.get_preds(dl=learn.dls.test_dl(test_items(learn, [sneaker])))
    assert cam.target == int(probs[0].argmax()) and cam.probability == pytest.approx(float(probs[0].max()), abs=1e-5)


def test_a_batch_gives_each_image_its_own_map(learn, tiny_spec):
    from tlstudio.core.delivery.grad_cam import grad_cams

    paths = [tiny_spec.items[i] for i in tiny_spec.indices("valid")[:5]]
    together = grad_cams(learn, paths)
    for path, cam in zip(paths, together):
        alone = grad_cam(learn, path)
        assert cam.target == alone.target and cam.probability == pytest.approx(alone.probability, abs=1e-5)
        assert np.abs(cam.heatmap - alone.heatmap).max() < 1e-4


def test_overlays_are_plain_arrays_of_what_the_model_saw(learn, tiny_spec, tmp_path):
    from tlstudio.core.events import ListReporter
    from tlstudio.core.delivery.export import loaded_from_learner
    from tlstudio.core.delivery.grad_cam import NoLearner, blend, overlays

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    paths = [tiny_spec.items[i] for i in tiny_spec.indices("valid")[:3]]
    reporter = ListReporter()
    shown = overlays(loaded_from_learner(learn), [paths[0], broken, *paths[1:]], reporter)
    assert [o.path for o in shown] == paths  # the unreadable file is left out
    assert reporter.events[-1].done == reporter.events[-1].total == 3
    for o in shown:
        assert o.overlay.shape == o.cam.image.shape == (128, 128, 3) and o.overlay.dtype == np.uint8
        # The image as the model saw it: the 28 px original resized, normalisation undone.
        original = np.asarray(Image.open(o.path).convert("RGB").resize((128, 128)), dtype=np.float32)
        assert np.abs(o.cam.image.astype(np.float32) - original).mean() < 12
        assert np.array_equal(o.overlay, blend(o.cam.image, o.cam.heatmap))
    hot = blend(np.zeros((1, 2, 3), np.uint8), np.array([[0.0, 1.0]], np.float32))
    assert hot[0, 0, 2] > hot[0, 0, 0] and hot[0, 1, 0] > hot[0, 1, 2]  # cold is blue, hot is red
    with pytest.raises(NoLearner):
        overlays(object(), paths)
