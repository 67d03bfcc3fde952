"""A rough speed figure per architecture, measured on this machine.

Images per second of an inference forward pass of the model training will
build (`build_learner`, random weights: speed does not depend on them) on a
batch of random images. Good enough to rank architectures on this machine, not
a benchmark.
"""
from __future__ import annotations

import time

from tlstudio.core.events import Cancelled, NullReporter, Progress

SPEED_SIZE = 64  # px: small, so measuring even the large models takes a second or two on a CPU
SPEED_BATCH = 16


def measure_speed(dls, arch: str, *, size: int = SPEED_SIZE, batch_size: int = SPEED_BATCH,
                  min_seconds: float = 1.0, max_batches: int = 20, device=None, reporter=None) -> float:
    """Images per second of `arch`'s forward pass at `size` px on `device` (default: the training device)."""
    import torch

    from tlstudio.core.models.learner import build_learner
    from tlstudio.core.training.device import choose_device

    reporter = reporter or NullReporter()
    device = device or choose_device("auto")
    reporter.emit(Progress("speed", 0, max_batches, f"Building {arch}…"))
    model = build_learner(dls, arch, pretrained=False).model.to(device).eval()
    x = torch.rand(batch_size, 3, size, size, device=device)
    with torch.inference_mode():
        model(x)  # warm-up: first-call allocations and kernel selection
        done, start = 0, time.perf_counter()
        while done < max_batches:
            if reporter.cancel_requested():
                raise Cancelled(f"speed measurement of {arch} cancelled")
            model(x)
            done += 1
            if device.type == "cuda":
                torch.cuda.synchronize()
            reporter.emit(Progress("speed", done, max_batches, f"Measuring {arch}…"))
            if time.perf_counter() - start >= min_seconds:
                break
        elapsed = time.perf_counter() - start
    return done * batch_size / elapsed
