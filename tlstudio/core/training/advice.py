"""What the Model page shows about a choice: the real layer groups, and the
usual transfer-learning advice for an architecture and an unfreeze depth."""
from __future__ import annotations

from dataclasses import dataclass

from tlstudio.core.dataset.spec import DatasetSpec

SMALL_PER_CLASS = 100  # training images per class below which a dataset is "small"
LARGE_PER_CLASS = 500


@dataclass(frozen=True)
class Advice:
    value: object  # the recommended architecture name or unfreeze depth
    reason: str  # one line a person can act on


def train_per_class(spec: DatasetSpec) -> float:
    counts = spec.class_counts("train")
    return sum(counts.values()) / max(1, len(counts))


# The fast head's validation accuracy says how well the frozen ImageNet
# features already separate the classes (how ImageNet-like the task is).
SEPARATES_WELL = 0.85
SEPARATES_POORLY = 0.60


def recommend_depth(
    spec: DatasetSpec, n_groups: int, *, on_gpu: bool = False, head_accuracy: float | None = None
) -> Advice:
    """How many layer groups stage 2 should train (head included).

    Usual transfer-learning guidance, in this order: with few images keep most
    of the pretrained body frozen (it generalises better and overfits less);
    with many, unfreeze more. When the frozen features already separate the
    classes well (the head's validation accuracy, known after stage 1), the
    task is ImageNet-like and the body needs little change; when they separate
    them poorly, one more group is trained. A GPU affords one more group of a
    medium-sized set. Measured (docs/benchmarks.md, "Model quality", the depth
    round): below 500 images per class, 2 groups beat 3 and every group on
    three of the four benchmark sets, and in half the time; the texture crops
    gained most from every group."""
    per_class = train_per_class(spec)
    if per_class < SMALL_PER_CLASS:
        depth, size = 2, "small"
    elif per_class < LARGE_PER_CLASS:
        depth, size = 2 + int(on_gpu), "medium-sized"
    else:
        depth, size = n_groups, "large"
    why = [f"{per_class:.0f} training images per class is {size}"]
    if on_gpu and size == "medium-sized":
        why.append("a GPU affords one more group")
    if head_accuracy is not None:
        if head_accuracy < SEPARATES_POORLY and depth < n_groups:
            depth += 1
            why.append(f"the frozen features separate the classes poorly (head accuracy {head_accuracy:.2f}), one more")
        elif head_accuracy >= SEPARATES_WELL:
            why.append(f"the frozen features separate the classes well (head accuracy {head_accuracy:.2f})")
    depth = min(depth, n_groups)
    trains = "every group" if depth >= n_groups else f"the last {depth} of {n_groups} groups"
    more = "" if depth >= n_groups else " Unfreeze more if your images look unlike everyday photos (X-rays, microscopy…)."
    return Advice(depth, f"train {trains}: {'; '.join(why)}.{more}")


def recommend_arch(spec: DatasetSpec, on_gpu: bool, available: set[str]) -> Advice:
    """A sensible default: small and fast on a CPU or a small dataset, larger
    when a GPU and enough images can use it; only architectures whose weights
    are on this machine (`available`), when there are any."""
    n = len(spec.items)
    if on_gpu and n >= 2000:
        order, why = ("resnet50", "convnext_tiny", "resnet34", "efficientnet_b0", "mobilenet_v2"), f"a GPU and {n} images"
    elif on_gpu:
        order, why = ("resnet34", "resnet18", "efficientnet_b0", "mobilenet_v2"), f"a GPU and a small dataset ({n} images)"
    else:
        order, why = ("mobilenet_v2", "tf_efficientnet_lite0", "resnet18", "efficientnet_b0"), "training on a CPU"
    for name in order:
        if name in available:
            return Advice(name, f"{name}: {why}, and its weights are on this machine.")
    return Advice(order[0], f"{order[0]}: {why} (import its weights to train it pretrained).")


def arch_groups(dls, arch: str, depth: int | None = None) -> list:
    """The real fastai layer groups of `arch` on `dls` (head sized for its classes),
    as `models.GroupInfo`, with `trainable` as stage 2 leaves them after
    `freeze_to` for `depth`. Built on torch's meta device: structure and
    parameter counts without allocating or initialising any weights."""
    import torch

    from tlstudio.core.models.groups import depth_to_freeze_to, layer_groups
    from tlstudio.core.models.learner import build_learner

    with torch.device("meta"):
        learn = build_learner(dls, arch, pretrained=False)
        groups = layer_groups(learn)
        learn.freeze_to(depth_to_freeze_to(depth, len(groups)))
        return layer_groups(learn)
