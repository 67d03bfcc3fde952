"""Advice for the Model page: unfreeze depth by images per class, a default architecture; real layer groups."""
from __future__ import annotations

from pathlib import Path

from fixtures_preview import preview_spec  # noqa: F401  (fixture)

from tlstudio.core.config import AugmentConfig
from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.training.advice import arch_groups, recommend_arch, recommend_depth


def spec_with(per_class: int, classes=("a", "b")) -> DatasetSpec:
    items = [Path(f"{c}/{i}.png") for c in classes for i in range(per_class)]
    labels = [p.parent.name for p in items]
    return DatasetSpec(Path("."), "class-folders", items, labels, ["train"] * len(items), list(classes))


def test_fewer_images_per_class_train_fewer_groups():
    small, medium, large = (recommend_depth(spec_with(n), 5) for n in (40, 200, 800))
    assert (small.value, medium.value, large.value) == (2, 2, 5)  # measured: docs/benchmarks.md, the depth round
    assert "40 training images per class is small" in small.reason and "unlike everyday photos" in small.reason
    assert "every group" in large.reason
    assert recommend_depth(spec_with(10), 1).value == 1


def test_the_heads_accuracy_and_a_gpu_move_the_depth():
    medium = spec_with(200)
    assert recommend_depth(medium, 5).value == 2
    assert recommend_depth(medium, 5, on_gpu=True).value == 3
    poor = recommend_depth(medium, 5, head_accuracy=0.4)
    assert poor.value == 3 and "separate the classes poorly (head accuracy 0.40)" in poor.reason
    well = recommend_depth(medium, 5, head_accuracy=0.95)
    assert well.value == 2 and "separate the classes well" in well.reason
    assert recommend_depth(spec_with(800), 5, head_accuracy=0.4).value == 5  # never more than every group
    assert recommend_depth(spec_with(40), 1, head_accuracy=0.4).value == 1


def test_setting_a_depth_is_a_choice_that_turns_the_automatic_one_off():
    from tlstudio.core.config import TrainConfig

    assert TrainConfig().auto_depth is True
    assert TrainConfig().with_(unfreeze_depth=2).auto_depth is False
    assert TrainConfig().with_(unfreeze_depth=None).auto_depth is False
    assert TrainConfig().with_(unfreeze_depth=2, auto_depth=True).auto_depth is True
    assert TrainConfig().with_(epochs=5).auto_depth is True


def test_default_architecture_prefers_small_models_on_cpu_and_weights_on_this_machine():
    assert recommend_arch(spec_with(50), on_gpu=False, available={"mobilenet_v2", "resnet50"}).value == "mobilenet_v2"
    assert recommend_arch(spec_with(2000), on_gpu=True, available={"mobilenet_v2", "resnet50"}).value == "resnet50"
    assert recommend_arch(spec_with(2000), on_gpu=True, available={"mobilenet_v2"}).value == "mobilenet_v2"
    missing = recommend_arch(spec_with(50), on_gpu=False, available=set())
    assert missing.value == "mobilenet_v2" and "import its weights" in missing.reason


def test_arch_groups_are_the_learners_groups_frozen_to_depth(preview_spec):
    from tlstudio.core.dataset.previews import preview_loaders

    dls = preview_loaders(preview_spec, AugmentConfig(size=32))
    groups = arch_groups(dls, "mobilenet_v2", depth=2)
    assert [g.trainable for g in groups] == [False, False, False, True, True]
    assert groups[-1].name == "head"
    assert all(g.n_params > 0 for g in groups)
    assert [g.trainable for g in arch_groups(dls, "mobilenet_v2", depth=None)] == [True] * 5
