"""The random split: stratified, seeded, stable per class; progress events and cancelling."""
from __future__ import annotations

import pytest
from broken_files import good_png, make_class_folders

from tlstudio.core.dataset.scan import scan
from tlstudio.core.events import Cancelled, ListReporter, Progress

COUNTS = {"big": 50, "mid": 10, "two": 2, "three": 3}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_class_folders(tmp_path_factory.mktemp("split"), COUNTS, size=8)


def test_split_is_stratified_and_every_class_is_validated(data):
    spec = scan(data, valid_pct=0.2)
    valid = spec.class_counts("valid")
    assert valid == {"big": 10, "mid": 2, "three": 1, "two": 1}
    assert spec.class_counts("train") == {c: COUNTS[c] - valid[c] for c in spec.classes}
    assert spec.split_counts()["test"] == 0 and not spec.has_test


def test_test_fraction(data):
    spec = scan(data, valid_pct=0.2, test_pct=0.1)
    assert spec.class_counts("test") == {"big": 5, "mid": 1, "three": 1, "two": 0}
    assert spec.class_counts("valid") == {"big": 10, "mid": 2, "three": 1, "two": 1}
    assert all(n >= 1 for n in spec.class_counts("train").values())


def test_same_seed_same_split_other_seed_other_split(data):
    a, b, c = scan(data, seed=1), scan(data, seed=1), scan(data, seed=2)
    assert a.splits == b.splits and a.items == b.items
    assert a.splits != c.splits
    assert a.class_counts("valid") == c.class_counts("valid")


def test_adding_a_class_leaves_the_other_classes_split_alone(tmp_path):
    root = make_class_folders(tmp_path / "d", {"x": 20, "y": 20}, size=8)
    before = scan(root)
    make_class_folders(root, {"z": 7}, size=8)
    after = scan(root)
    split_of = lambda spec: {p: s for p, s in zip(spec.items, spec.splits) if p.parent.name != "z"}  # noqa: E731
    assert split_of(before) == split_of(after)


def test_a_class_with_one_image_is_a_warning_not_an_error(tmp_path):
    root = make_class_folders(tmp_path / "d", {"many": 5, "rare": 1}, size=8)
    spec = scan(root)
    assert spec.class_counts() == {"many": 5, "rare": 1}
    assert spec.class_counts("train")["rare"] == 1
    assert any("'rare' has only one image" in w for w in spec.warnings)


def test_no_valid_split_is_a_warning(tmp_path):
    root = make_class_folders(tmp_path / "d", {"a": 3, "b": 3}, size=8)
    spec = scan(root, valid_pct=0.0)
    assert spec.split_counts() == {"train": 6, "valid": 0, "test": 0} and spec.seed is None
    assert any("no validation split" in w for w in spec.warnings)


def test_progress_events_reach_the_total(data):
    reporter = ListReporter()
    scan(data, reporter=reporter)
    progress = reporter.of_type(Progress)
    assert progress and all(p.task == "scan" for p in progress)
    checked = [p for p in progress if p.total]
    assert checked[-1].done == checked[-1].total == sum(COUNTS.values())
    assert [p.done for p in checked] == sorted(p.done for p in checked)


def test_cancel_raises_cancelled(tmp_path):
    root = make_class_folders(tmp_path / "d", {"a": 150, "b": 150}, size=8)  # two chunks of checks
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, Progress) and e.total and e.done > 0)
    with pytest.raises(Cancelled):
        scan(root, reporter=reporter)
    checked = [p for p in reporter.of_type(Progress) if p.total]
    assert checked and checked[-1].done < 300  # stopped before the end


def test_cancel_while_listing(tmp_path):
    root = make_class_folders(tmp_path / "d", {"a": 2, "b": 2}, size=8)
    good_png(root / "a" / "x.png")
    reporter = ListReporter()
    reporter.cancel()
    with pytest.raises(Cancelled):
        scan(root, reporter=reporter)


def test_thread_pool_path_gives_the_same_spec_and_can_be_cancelled(tmp_path, monkeypatch):
    """Files that read slowly (not in the page cache) are checked in a thread pool."""
    from tlstudio.core.dataset import scan as dataset

    root = make_class_folders(tmp_path / "d", {"a": 300, "b": 300}, size=8)
    good_png(root / "a" / "zz.png")
    (root / "b" / "zz.png").write_bytes(b"")
    serial = scan(root)
    monkeypatch.setattr(dataset, "_SLOW_FILE_S", -1.0)  # every chunk counts as slow
    pooled = scan(root)
    assert (pooled.items, pooled.splits, pooled.sizes, pooled.skipped) == (
        serial.items, serial.splits, serial.sizes, serial.skipped)
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, Progress) and e.total and e.done > 256)
    with pytest.raises(Cancelled):
        scan(root, reporter=reporter)
    assert [p.done for p in reporter.of_type(Progress) if p.total][-1] < 601
