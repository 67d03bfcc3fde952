"""Session fixtures shared by engine and Qt tests: tiny real datasets and a tiny trained model.

Imported by tests/conftest.py, so every test folder sees them.

- `tiny_spec`: 3 clearly different Fashion-MNIST classes (trouser, bag,
  sneaker) x 16 images copied from resources/demo into a session temp folder;
  12 train + 4 valid per class, split by folder.
- `tiny_config`: a TrainConfig for it: 32 px, batch 8 (4 training batches per
  epoch), 1 frozen + 1 unfrozen epoch, CPU, seeded.
- `trained_result`: a real `training.run` on those (mobilenet_v2 with the
  offline pretrained weights, fast head on, as the engine's defaults). Treat
  it as read-only; build your own run when you need to change the learner.
- `trained_run`: the same run with its events (`.events`) and the head module
  it started from (`.head`, `.head_before` weights, `.head_at[...]`).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

TINY_CLASSES = ("bag", "sneaker", "trouser")
TINY_PER_CLASS = 16
TINY_VALID_PER_CLASS = 4


def make_tiny_spec(root: Path, demo: Path, classes=TINY_CLASSES, per_class=TINY_PER_CLASS):
    """Copy `per_class` demo images of each class into root/{train,valid}/<class>/
    and describe them as a DatasetSpec."""
    from tlstudio.core.dataset.spec import DatasetSpec

    items, labels, splits = [], [], []
    for label in classes:
        sources = sorted((demo / label).glob("*.png"))[:per_class]
        if len(sources) < per_class:
            raise RuntimeError(f"{demo / label} has {len(sources)} images, the tiny set needs {per_class}")
        for i, src in enumerate(sources):
            split = "valid" if i < TINY_VALID_PER_CLASS else "train"
            dest = root / split / label / src.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            items.append(dest)
            labels.append(label)
            splits.append(split)
    return DatasetSpec(
        root=root, layout="split-folders", items=items, labels=labels, splits=splits, classes=sorted(classes)
    )


@pytest.fixture(scope="session")
def tiny_spec(tmp_path_factory, demo_dir):
    return make_tiny_spec(tmp_path_factory.mktemp("tiny_data"), demo_dir)


@pytest.fixture(scope="session")
def tiny_config():
    from tlstudio.core.config import AugmentConfig, TrainConfig

    return TrainConfig(
        arch="mobilenet_v2",
        pretrained=True,
        augment=AugmentConfig(size=32),
        bs=8,
        freeze_epochs=1,
        epochs=1,
        device="cpu",
        seed=42,
    )


@pytest.fixture(scope="session")
def trained_run(tiny_spec, tiny_config):
    """A real run with its events, and the head module it started from."""
    from tlstudio.core.events import ListReporter
    from tlstudio.core.training import run as training

    learn = training.prepare_learner(tiny_spec, tiny_config)
    head = learn.model[1]
    head_before = {k: v.detach().clone() for k, v in head.state_dict().items()}
    head_at = {}  # "stage 1 end" / "stage 2 start" -> head weights at that moment

    def watch(event):
        from tlstudio.core.events import EpochEnd, StageStart

        if isinstance(event, EpochEnd) and event.stage == 1:
            head_at["stage 1 end"] = {k: v.detach().clone() for k, v in head.state_dict().items()}
        if isinstance(event, StageStart) and event.stage == 2:
            head_at["stage 2 start"] = {k: v.detach().clone() for k, v in head.state_dict().items()}
        return False

    reporter = ListReporter(cancel_when=watch)
    result = training.run(tiny_spec, tiny_config, reporter, learn=learn)
    assert result.status == "completed", result.message
    return SimpleNamespace(
        result=result, events=list(reporter.events), head=head, head_before=head_before, head_at=head_at
    )


@pytest.fixture(scope="session")
def trained_result(trained_run):
    return trained_run.result


def best_epoch(history) -> int:
    """Keep-best's rule, written out independently of the engine: the highest
    accuracy; of equally accurate epochs the lowest valid loss, then the
    earliest. `history`: EpochEnd events, or (global epoch, valid loss,
    accuracy) tuples."""
    rows = [(e.global_epoch, e.valid_loss, e.metrics["accuracy"]) if hasattr(e, "valid_loss") else e for e in history]
    return min(rows, key=lambda r: (-round(r[2], 6), r[1], r[0]))[0]
