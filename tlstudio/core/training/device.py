"""Which torch device a run uses: CUDA, then Apple's MPS, then the CPU."""
from __future__ import annotations

from tlstudio.core.errors import UserFacingError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available(torch) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def choose_device(preference: str = "auto"):
    """The torch.device for `preference` ("auto" picks the fastest one present).

    An explicit choice that this machine cannot honour is a user-facing error,
    not a silent fall back to the CPU: a run the user believes is on the GPU
    must not quietly take fifty times longer."""
    import torch

    if preference not in DEVICE_CHOICES:
        raise UserFacingError(f"unknown device '{preference}' (choose one of {', '.join(DEVICE_CHOICES)})")
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available(torch):
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise UserFacingError("device 'cuda' was asked for, but torch sees no CUDA GPU on this machine")
    if preference == "mps" and not _mps_available(torch):
        raise UserFacingError("device 'mps' was asked for, but this machine has no Apple MPS device")
    return torch.device(preference)


def uses_mixed_precision(device) -> bool:
    """Mixed precision pays off (and is well supported by fastai) on CUDA only."""
    return getattr(device, "type", str(device)) == "cuda"
