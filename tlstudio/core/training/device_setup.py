"""A learner set up for the device it trains on: precision, memory layout,
batch size, and one event that says what was chosen.

On CUDA: mixed precision, bf16 where the GPU supports it (no loss scaling
needed) and fp16 with fastai's gradient scaler elsewhere; channels_last
(fastai's ChannelsLast callback, and the model converted at once so that
prediction passes outside `fit` use it too); pinned-memory copies (the image
cache's loader pins its batches, the plain pipeline gets `pin_memory`); and,
with `config.auto_bs`, the batch size the free GPU memory allows, from a probe
of what one image costs (`batch_size_for_memory` is the pure rule). On the CPU
and on Apple's MPS a run trains in float32, as fastai does there.
"""
from __future__ import annotations

import os
from contextlib import nullcontext

from tlstudio.core.training.device import uses_mixed_precision
from tlstudio.core.events import DeviceSummary

# Share of the free GPU memory a chosen batch may use: the allocator's
# fragmentation and cuDNN's workspaces need the rest.
MEMORY_FRACTION = 0.75
MAX_AUTO_BS = 512  # past this, larger batches buy no speed and change training more
PROBE_BS = (4, 12)  # two probe batches: their difference is the cost of one image


def precision_for(device, bf16_supported: bool | None = None) -> str:
    """"bf16", "fp16" or "fp32" for `device` (`bf16_supported` overrides the GPU's answer)."""
    if not uses_mixed_precision(device):
        return "fp32"
    if bf16_supported is None:
        import torch

        bf16_supported = torch.cuda.is_bf16_supported()
    return "bf16" if bf16_supported else "fp16"


def batch_size_for_memory(free_bytes: int, bytes_per_image: float, *, fixed_bytes: float = 0,
                          fraction: float = MEMORY_FRACTION, cap: int = MAX_AUTO_BS, n_train: int | None = None) -> int:
    """The largest power of two whose images fit in `fraction` of `free_bytes`
    after `fixed_bytes`, at most `cap` and at most the training set; at least 1."""
    if bytes_per_image <= 0:
        raise ValueError(f"bytes_per_image must be positive, not {bytes_per_image}")
    fit = int((free_bytes * fraction - fixed_bytes) // bytes_per_image)
    bs = 1 << (min(fit, cap).bit_length() - 1) if fit >= 1 else 1
    return max(1, min(bs, n_train) if n_train else bs)


def probe_memory(model, size: int, device, precision: str) -> tuple[float, float]:
    """(bytes per image, fixed bytes) of one training step of `model` on CUDA,
    every layer trainable (stage 2 at full depth needs the most). The model's
    weights, buffers and trainable flags are restored afterwards."""
    import torch

    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    was_training = model.training
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    peaks = []
    try:
        model.train()
        for p in model.parameters():
            p.requires_grad_(True)
        for n in PROBE_BS:
            x = torch.randn(n, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
            model.zero_grad(set_to_none=True)
            torch.cuda.synchronize(device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            with torch.autocast("cuda", dtype=dtype) if dtype else nullcontext():
                out = model(x)
            out.float().logsumexp(1).mean().backward()
            torch.cuda.synchronize(device)
            peaks.append(torch.cuda.max_memory_allocated(device) - base)
            del x, out
    finally:
        model.zero_grad(set_to_none=True)
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
        model.load_state_dict(saved)
        model.train(was_training)
        torch.cuda.empty_cache()
    per_image = max(1.0, (peaks[1] - peaks[0]) / (PROBE_BS[1] - PROBE_BS[0]))
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    fixed = max(0.0, peaks[0] - PROBE_BS[0] * per_image) + 2 * params  # + Adam's two moments
    return per_image, fixed


def set_up(learn, config, device, images: str = "") -> DeviceSummary:
    """Precision, channels_last and (with `config.auto_bs`) the batch size for
    `device`; returns the summary to emit."""
    precision = precision_for(device)
    bs, note = learn.dls.train.bs, ""
    if device.type == "cuda":
        import torch

        learn.model.to(device)
        if precision == "bf16":
            learn.to_bf16()
        else:
            learn.to_fp16()
        learn.to_channelslast(use_amp=False)
        learn.model.to(memory_format=torch.channels_last)
        if config.auto_bs:
            bs, note = _auto_bs(learn, config, device, precision)
    return DeviceSummary(
        device=str(device) if device.type != "cuda" else f"cuda:{device.index or 0}",
        name=_device_name(device),
        precision=f"{precision} mixed precision" if precision != "fp32" else "fp32",
        channels_last=device.type == "cuda",
        bs=bs,
        bs_note=note,
        images=images,
    )


def _auto_bs(learn, config, device, precision) -> tuple[int, str]:
    import torch

    from tlstudio.core.training import distributed

    def choose():
        free, _ = torch.cuda.mem_get_info(device)
        per_image, fixed = probe_memory(learn.model, config.augment.size, device, precision)
        n_train = len(learn.dls.train.dataset) // distributed.world_size()
        return batch_size_for_memory(free, per_image, fixed_bytes=fixed, n_train=n_train), free

    bs, free = distributed.from_rank0(choose)  # one choice for every process
    for dl in (learn.dls.train, learn.dls.valid):
        dl.bs = bs
    return bs, f"chosen from {free / 2**30:.0f} GiB free GPU memory"


def _device_name(device) -> str:
    if device.type == "cuda":
        import torch

        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU"
    import torch

    return f"CPU, {torch.get_num_threads()} threads of {os.cpu_count()} cores"


def autocast(learn):
    """The autocast a learner's mixed precision trains under, for passes that
    run its model outside `fit` (the feature cache); nothing when it has none."""
    mp = getattr(learn, "mixed_precision", None)
    if mp is None:
        return nullcontext()
    import torch

    dtype = torch.bfloat16 if getattr(mp.amp_mode, "value", mp.amp_mode) == "bf16" else torch.float16
    return torch.autocast(learn.dls.device.type, dtype=dtype)
