"""Grad-CAM (Selvaraju et al., 2017): where in an image a model looks for the class it scores.

The activations of a layer (the body's output by default) are captured with
fastai's `hook_output`; the gradient of the class score with respect to them,
averaged over each channel, weighs the channels; the positive part of the
weighted sum, scaled to [0, 1] and resized to the model's input, is the map.
A frozen body holds no parameter that requires a gradient, so nothing would
connect the activations to the score: the input is made to require one.

Everything handed back is plain numpy (the map, the image as the model saw
it, the overlay), so the work can run wherever the model lives: `overlays`
takes a fastai Learner, a loaded model (core/export.LoadedModel) or a model
file, and image paths.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tlstudio.core.errors import UserFacingError

CHUNK = 16  # images per forward and backward pass


@dataclass(frozen=True)
class GradCam:
    heatmap: np.ndarray  # float32 (H, W) in [0, 1], the size of the model's input
    target: int  # class index the map explains
    label: str
    probability: float  # the model's probability for `target`
    image: np.ndarray | None = None  # uint8 (H, W, 3): the input as the model saw it (resized, not normalised)


@dataclass(frozen=True)
class CamOverlay:
    path: Path
    cam: GradCam
    overlay: np.ndarray  # uint8 (H, W, 3): the heat map blended over `cam.image`


def grad_cam(learn, image_path, target: int | None = None, layer=None) -> GradCam:
    """The map for the image file `image_path` and class `target` (None: the
    predicted class), through `learn`'s own preprocessing."""
    return grad_cams(learn, [image_path], None if target is None else [target], layer)[0]


def grad_cams(learn, image_paths, targets=None, layer=None) -> list[GradCam]:
    """One map per image file, in one forward and backward pass; `targets`:
    a class index per image (None: each image's predicted class). Images do
    not mix: the model runs in eval mode, so each score depends on its own
    image alone."""
    import torch
    import torch.nn.functional as F
    from fastai.callback.hook import hook_output

    from tlstudio.core.delivery.inference_data import test_items

    layer = layer if layer is not None else learn.model[0]
    (xb,) = learn.dls.test_dl(test_items(learn, list(image_paths)), bs=max(len(image_paths), 1)).one_batch()
    xb = xb.as_subclass(torch.Tensor).detach().clone().requires_grad_(True)
    model = learn.model
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), hook_output(layer, detach=False) as hook:
            scores = model(xb).float()
            probs = scores.softmax(dim=-1).detach()
            chosen = probs.argmax(dim=-1) if targets is None else torch.as_tensor(list(targets), device=scores.device)
            (grads,) = torch.autograd.grad(scores.gather(1, chosen[:, None]).sum(), hook.stored)
        acts = hook.stored.detach()
    finally:
        model.train(was_training)
    weights = grads.float().mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * acts.float()).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=xb.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    top = cam.flatten(1).max(dim=1).values.clamp_min(1e-12)[:, None, None]
    heatmaps = torch.where(top > 1e-12, cam / top, cam).cpu().numpy().astype(np.float32)
    images = _seen(learn, xb.detach())
    return [
        GradCam(heatmaps[i], int(chosen[i]), str(learn.dls.vocab[int(chosen[i])]), float(probs[i, int(chosen[i])]),
                images[i])
        for i in range(len(heatmaps))
    ]


def _seen(learn, xb) -> np.ndarray:
    """The batch as uint8 (N, H, W, 3) images: the learner's normalisation undone."""
    from tlstudio.core.delivery.model_meta import normalization

    x = xb.float().cpu().numpy()
    norm = normalization(learn)
    if norm:
        x = x * np.array(norm["std"], dtype=np.float32)[:, None, None] + np.array(norm["mean"], dtype=np.float32)[:, None, None]
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)


def colour_map(heat: np.ndarray) -> np.ndarray:
    """A jet-like map of values in [0, 1]: blue (cold), green, yellow, red (hot); uint8 (H, W, 3)."""
    h = np.clip(heat, 0, 1)[..., None]
    rgb = np.clip(1.5 - np.abs(4 * h - np.array([3.0, 2.0, 1.0])), 0, 1)
    return (rgb * 255 + 0.5).astype(np.uint8)


def blend(image: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The map over the image: the hotter, the more of the map shows."""
    alpha = (0.25 + 0.45 * np.clip(heat, 0, 1))[..., None]
    out = (1 - alpha) * image.astype(np.float32) + alpha * colour_map(heat).astype(np.float32)
    return (out + 0.5).astype(np.uint8)


def overlays(model, image_paths, reporter=None, targets=None) -> list[CamOverlay]:
    """Grad-CAM overlays for image files, CHUNK at a time with progress and
    cancel. `model`: a fastai Learner, a loaded model (core/export.LoadedModel)
    or a model file (loaded as `core.export.load_model` loads it). An image
    that cannot be read is left out."""
    from tlstudio.core.events import Cancelled, NullReporter, Progress
    from tlstudio.core.dataset.image_check import ImageProblem, decode_checked

    reporter = reporter or NullReporter()
    learn = learner_of(model)
    paths = []
    for p in map(Path, image_paths):
        try:
            decode_checked(p)
            paths.append(p)
        except ImageProblem:
            continue
    out: list[CamOverlay] = []
    for start in range(0, len(paths), CHUNK):
        if reporter.cancel_requested():
            raise Cancelled()
        chunk = paths[start : start + CHUNK]
        chunk_targets = None if targets is None else list(targets)[start : start + CHUNK]
        for path, cam in zip(chunk, grad_cams(learn, chunk, chunk_targets)):
            out.append(CamOverlay(path, cam, blend(cam.image, cam.heatmap)))
        reporter.emit(Progress("Grad-CAM", min(start + CHUNK, len(paths)), len(paths)))
    return out


class NoLearner(UserFacingError):
    """Grad-CAM needs the network itself: ONNX and TorchScript files run without it here."""


def learner_of(model):
    if hasattr(model, "model") and hasattr(model, "dls"):
        return model
    if getattr(model, "learn", None) is not None:
        return model.learn
    if isinstance(model, (str, Path)):
        from tlstudio.core.delivery.export import load_model

        return learner_of(load_model(model))
    raise NoLearner("Grad-CAM needs the trained model, a .tlsmodel or a .pkl; "
                    "ONNX and TorchScript files run without the network it looks into")
