"""The imbalance fixes: a class-weighted loss or oversampling, in both stages, on a strongly imbalanced tiny set."""
from __future__ import annotations

import shutil
from collections import Counter

import pytest
import torch

from tlstudio.core.dataset import imbalance
from tlstudio.core.training import run as training
from tlstudio.core.config import AugmentConfig, TrainConfig
from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.events import NullReporter
from tlstudio.core.delivery.interpret import interpret

# 48 training images of two classes, 2 of the third; 12 validation images of each.
COUNTS = {"bag": 48, "trouser": 48, "dress": 2}
MINORITY = "dress"
VALID = 12


@pytest.fixture(scope="module")
def spec(tmp_path_factory, demo_dir):
    root = tmp_path_factory.mktemp("imbalanced")
    items, labels, splits = [], [], []
    for label, n in COUNTS.items():
        for i, src in enumerate(sorted((demo_dir / label).glob("*.png"))[: VALID + n]):
            split = "valid" if i < VALID else "train"
            dest = root / split / label / src.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            items.append(dest)
            labels.append(label)
            splits.append(split)
    return DatasetSpec(root=root, layout="split-folders", items=items, labels=labels, splits=splits,
                       classes=sorted(COUNTS))


BASE = TrainConfig(augment=AugmentConfig(size=32), bs=16, device="cpu", seed=42)
STAGES = {
    "stage 1 (fast head on cached features)": BASE.with_(freeze_epochs=3, epochs=0),
    "stage 2 (unfrozen, through the network)": BASE.with_(freeze_epochs=0, epochs=2, unfreeze_depth=2),
}


def test_balanced_weights():
    assert imbalance.class_weights([30, 10, 0]) == [40 / 60, 40 / 20, 1.0]
    counts = [48, 48, 2]
    weights = imbalance.class_weights(counts)
    assert sum(w * n for w, n in zip(weights, counts)) == pytest.approx(sum(counts))  # the loss keeps its scale
    drawn = imbalance.sample_weights(["a", "a", "a", "b"])
    assert drawn.tolist() == [1 / 3, 1 / 3, 1 / 3, 1.0]


def test_an_unknown_fix_is_refused(spec):
    with pytest.raises(ValueError, match="imbalance must be one of none, loss_weights, oversample"):
        training.prepare_learner(spec, BASE.with_(imbalance="smote"))


def test_the_fix_reaches_both_stages(spec):
    from tlstudio.core.training.features import cache_features, head_learner

    weighted = training.prepare_learner(spec, BASE.with_(imbalance="loss_weights"))
    weight = weighted.loss_func.func.weight
    expected = imbalance.class_weights([COUNTS[c] for c in weighted.dls.vocab])
    assert weight.tolist() == pytest.approx(expected) and weight.device == weighted.dls.device
    head = head_learner(weighted, cache_features(weighted, NullReporter()), [])
    assert head.loss_func is weighted.loss_func  # stage 1 on features uses the same weighted loss

    plain = training.prepare_learner(spec, BASE)
    assert plain.loss_func.func.weight is None and not imbalance.oversamples(plain.dls.train)

    sampled = training.prepare_learner(spec, BASE.with_(imbalance="oversample"))
    assert imbalance.oversamples(sampled.dls.train) and len(sampled.dls.train) == len(plain.dls.train)
    assert not imbalance.oversamples(sampled.dls.valid) or not sampled.dls.valid.shuffle
    vocab = list(sampled.dls.vocab)
    seen = Counter(vocab[int(y)] for _ in range(10) for _, yb in sampled.dls.train for y in yb)
    assert min(seen.values()) > 0.25 * sum(seen.values())  # about a third each, not 2 in 98
    head = head_learner(sampled, cache_features(sampled, NullReporter()), [])
    assert imbalance.oversamples(head.dls.train)
    head_seen = Counter(int(y) for _ in range(10) for _, yb in head.dls.train for y in yb)
    assert min(head_seen.values()) > 0.25 * sum(head_seen.values())
    assert [len(dl) for dl in sampled.dls] == [len(dl) for dl in plain.dls]


@pytest.mark.parametrize("stage", list(STAGES))
def test_the_fix_raises_the_minority_recall(spec, stage):
    recall, share = {}, {}
    for fix in imbalance.FIXES:
        result = training.run(spec, STAGES[stage].with_(imbalance=fix), None)
        assert result.status == "completed", result.message
        interp = interpret(result.learn, spec)
        k = interp.classes.index(MINORITY)
        recall[fix] = float(interp.scores.recall[k])
        share[fix] = float((interp.y_pred == k).mean())
    for fix in (imbalance.LOSS_WEIGHTS, imbalance.OVERSAMPLE):
        assert recall[fix] > recall[imbalance.NONE], (stage, recall)
        assert share[fix] > share[imbalance.NONE], (stage, share)


def test_weighted_loss_on_the_given_device():
    loss = imbalance.weighted_loss([10, 1], device="cpu")
    preds = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    # Equal logits: each item's loss is log 2 whatever its weight, so the weighted mean is too.
    assert float(loss(preds, torch.tensor([0, 1]))) == pytest.approx(float(torch.log(torch.tensor(2.0))))
    assert loss.func.weight.tolist() == pytest.approx([11 / 20, 11 / 2])
