"""Reading a weights file and checking that it fits an architecture.

Files load with `torch.load(weights_only=True)` (or safetensors): a weights file
never runs code. Problems become `WeightsFileError` with the file's name and one
short reason, never torch's paragraph-long messages.
"""
from __future__ import annotations

import re
from pathlib import Path

from tlstudio.core.errors import UserFacingError


class WeightsFileError(UserFacingError):
    """A weights file that cannot be read or does not fit the architecture."""


def lite0_keys_to_timm(sd: dict) -> dict:
    """Rename EfficientNet-Lite0 keys in the efficientnet_pytorch layout (`_blocks.N._expand_conv`,
    flat block list) onto timm's `tf_efficientnet_lite0` (`blocks.stage.i.conv_pw`)."""
    stage_sizes = (1, 2, 2, 3, 3, 4, 1)
    flat = [(s, i) for s, n in enumerate(stage_sizes) for i in range(n)]
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    # The first block has no expansion conv, so timm names its layers differently.
    first = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    block = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}
    out = {}
    for key, value in sd.items():
        m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        try:
            if m:
                index = int(m[1])
                stage, i = flat[index]
                layer = (first if index == 0 else block)[m[2]]
                out[f"blocks.{stage}.{i}.{layer}.{m[3]}"] = value
            else:
                module, rest = key.split(".", 1)
                out[f"{top[module]}.{rest}"] = value
        except (KeyError, IndexError, ValueError):
            raise WeightsFileError(f"unexpected key {key!r} for EfficientNet-Lite0 weights") from None
    return out


def read_state_dict(path: Path) -> dict:
    import torch

    if not path.is_file():
        raise WeightsFileError(f"{path}: no such weights file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path))
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch/pickle raise many types for a file that is not a checkpoint
        raise WeightsFileError(f"{path}: not a readable PyTorch weights file ({_why_unreadable(path, exc)})") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(sd, dict) and isinstance(sd.get(wrapper), dict):
            sd = sd[wrapper]
    if not isinstance(sd, dict) or not all(hasattr(v, "shape") for v in sd.values()):
        raise WeightsFileError(f"{path}: does not hold a state dict of tensors")
    return sd


def _why_unreadable(path: Path, exc: Exception) -> str:
    """One short reason: torch's own messages run to paragraphs."""
    import pickle

    with open(path, "rb") as f:
        head = f.read(2)
    if not head:
        return "the file is empty"
    if isinstance(exc, pickle.UnpicklingError):
        return "not a tensor checkpoint; files that need code to load are refused"
    if head == b"PK" or head[:1] == b"\x80":  # torch.save's zip format, or its legacy pickle format
        return "the file is corrupt or truncated"
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:160]}"


def reference_shapes(arch: str) -> dict[str, tuple]:
    """Parameter and buffer shapes of the architecture, built on the meta device (no memory, no weights)."""
    import torch

    from tlstudio.core.models.registry import get_arch

    with torch.device("meta"):
        if get_arch(arch).source == "torchvision":
            import torchvision.models as tvm

            model = getattr(tvm, arch)(weights=None)
        else:
            import timm

            model = timm.create_model(arch, pretrained=False)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _key_format_of(arch: str, sd: dict) -> str:
    if arch == "tf_efficientnet_lite0" and any(k.startswith("_blocks.") for k in sd):
        return "lukemelas-lite"
    return "native"


def check_state_dict(arch: str, sd: dict, source: Path | str) -> None:
    expected = reference_shapes(arch)
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    wrong = [k for k in expected if k in sd and tuple(sd[k].shape) != expected[k]]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} wrong shapes (e.g. {k}: {tuple(sd[k].shape)}, expected {expected[k]})")
        raise WeightsFileError(f"{source}: not {arch} ImageNet weights: " + ", ".join(parts))


def checked_state_dict(arch: str, path: Path) -> tuple[dict, str]:
    sd = read_state_dict(path)
    key_format = _key_format_of(arch, sd)
    if key_format == "lukemelas-lite":
        sd = lite0_keys_to_timm(sd)
    check_state_dict(arch, sd, path)
    return sd, key_format


def validate_weights_file(arch: str, path) -> dict:
    """The file's state dict in the arch's own key names, or WeightsFileError naming the problem."""
    return checked_state_dict(arch, Path(path))[0]
