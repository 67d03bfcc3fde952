"""The bundled demo dataset: 10 Fashion-MNIST classes x 60 PNGs, small, licensed, and scans cleanly."""
from __future__ import annotations

from tlstudio.core.dataset.scan import scan

CLASSES = ["ankle-boot", "bag", "coat", "dress", "pullover", "sandal", "shirt", "sneaker", "t-shirt", "trouser"]


def test_demo_scans_to_ten_classes_of_sixty(demo_dir):
    spec = scan(demo_dir)
    assert spec.layout == "class-folders"
    assert spec.classes == CLASSES
    assert spec.class_counts() == {c: 60 for c in CLASSES}
    assert spec.split_counts() == {"train": 480, "valid": 120, "test": 0}
    assert spec.skipped == [] and spec.warnings == []
    assert set(spec.sizes) == {(28, 28)} and set(spec.modes) == {"L"}


def test_demo_is_small_and_licensed(demo_dir):
    total = sum(p.stat().st_size for p in demo_dir.rglob("*") if p.is_file())
    assert total < 1_000_000
    license_text = (demo_dir / "LICENSE.md").read_text()
    assert "MIT" in license_text and "Zalando" in license_text and "fashion-mnist" in license_text
