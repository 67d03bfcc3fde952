"""Device choice: CUDA, then MPS, then CPU; an impossible explicit choice is a clear error."""
import pytest
import torch

from tlstudio.core.errors import UserFacingError
from tlstudio.core.training.device import choose_device, uses_mixed_precision


def test_auto_picks_the_fastest_device_present():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert choose_device("auto").type == expected


def test_cpu_is_always_available():
    assert choose_device("cpu") == torch.device("cpu")


def test_asking_for_cuda_without_a_gpu_says_so(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserFacingError, match="no CUDA GPU"):
        choose_device("cuda")


def test_unknown_device_is_rejected():
    with pytest.raises(UserFacingError, match="unknown device 'tpu'"):
        choose_device("tpu")


def test_mixed_precision_only_on_cuda():
    assert uses_mixed_precision(torch.device("cuda"))
    assert not uses_mixed_precision(torch.device("cpu"))
    assert not uses_mixed_precision(torch.device("mps"))
