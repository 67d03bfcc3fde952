"""Grad-CAM (Selvaraju et al., 2017): where in an image a model looks for the class it scores.

The activations of a layer (the body's output by default) are captured with
fastai's `hook_output`; the gradient of the class score with respect to them,
averaged over each channel, weighs the channels; the positive part of the
weighted sum, scaled to [0, 1] and resized to the model's input, is the map.
A frozen body holds no parameter that requires a gradient, so nothing would
connect the activations to the score: the input is made to require one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GradCam:
    heatmap: np.ndarray  # float32 (H, W) in [0, 1], the size of the model's input
    target: int  # class index the map explains
    label: str
    probability: float  # the model's probability for `target`


def grad_cam(learn, image_path, target: int | None = None, layer=None) -> GradCam:
    """The map for the image file `image_path` and class `target` (None: the
    predicted class), through `learn`'s own preprocessing."""
    import torch
    import torch.nn.functional as F
    from fastai.callback.hook import hook_output

    from tlstudio.core.delivery.inference_data import test_items

    layer = layer if layer is not None else learn.model[0]
    (xb,) = learn.dls.test_dl(test_items(learn, [image_path])).one_batch()
    xb = xb.as_subclass(torch.Tensor).detach().clone().requires_grad_(True)
    model = learn.model
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), hook_output(layer, detach=False) as hook:
            scores = model(xb)
            probs = scores.softmax(dim=-1)[0]
            target = int(probs.argmax()) if target is None else int(target)
            (grads,) = torch.autograd.grad(scores[0, target], hook.stored)
        acts = hook.stored.detach()
    finally:
        model.train(was_training)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * acts).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=xb.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    top = float(cam.max())
    heatmap = (cam / top if top > 0 else cam).numpy().astype(np.float32)
    return GradCam(heatmap, target, str(learn.dls.vocab[target]), float(probs[target].detach()))
