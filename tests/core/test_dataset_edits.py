"""The edit list: applied to a DatasetSpec without touching files, saved and loaded."""
from __future__ import annotations

import pytest

from tlstudio.core.dataset.scan import scan
from tlstudio.core.dataset.edits import DatasetEdits
from tlstudio.core.dataset.spec import DatasetError


def test_edits_change_what_the_spec_holds_and_leave_the_files(tiny_spec):
    before = {p: p.read_bytes() for p in tiny_spec.items}
    bag = [p for p, l in zip(tiny_spec.items, tiny_spec.labels) if l == "bag"]
    leaked = next(p for p, s, l in zip(tiny_spec.items, tiny_spec.splits, tiny_spec.labels)
                  if s == "valid" and l == "trouser")
    edits = DatasetEdits()
    edits.keep_one(bag[:3], keep=bag[1])
    edits.relabel(bag[5], "sneaker")
    edits.move(leaked, "train")
    assert len(edits) == 4
    spec = edits.apply(tiny_spec)
    assert len(spec) == len(tiny_spec) - 2
    assert bag[0] not in spec.items and bag[2] not in spec.items and bag[1] in spec.items
    assert spec.labels[spec.items.index(bag[5])] == "sneaker"
    assert spec.splits[spec.items.index(leaked)] == "train"
    assert spec.class_counts()["bag"] == tiny_spec.class_counts()["bag"] - 3
    assert tiny_spec.labels[tiny_spec.items.index(bag[5])] == "bag"  # the original spec is unchanged
    assert {p: p.read_bytes() for p in tiny_spec.items} == before


def test_a_new_label_becomes_a_class(tiny_spec):
    edits = DatasetEdits()
    edits.relabel(tiny_spec.items[0], "boot")
    assert "boot" in edits.apply(tiny_spec).classes


def test_saved_edits_load_back_the_same(tmp_path, demo_dir):
    spec = scan(demo_dir)
    edits = DatasetEdits()
    edits.exclude(spec.items[0])
    edits.relabel(spec.items[1], "coat")
    edits.move(spec.items[2], "valid")
    path = tmp_path / "edits.json"
    edits.save(path)
    loaded = DatasetEdits.load(path)
    assert loaded == edits
    assert loaded.apply(spec).items == edits.apply(spec).items
    assert [p.name for p in tmp_path.iterdir()] == ["edits.json"]  # no temp file left


def test_a_broken_edit_list_is_one_clear_line(tmp_path):
    path = tmp_path / "edits.json"
    path.write_text("{not json")
    with pytest.raises(DatasetError, match=r"edits\.json: cannot read the edit list"):
        DatasetEdits.load(path)
    with pytest.raises(ValueError, match="unknown split"):
        DatasetEdits().move("x.png", "holdout")


def test_paths_under_a_base_are_kept_relative_and_come_back_under_another(tmp_path):
    base, elsewhere = tmp_path / "data", tmp_path / "moved"
    outside = tmp_path / "other" / "x.png"
    edits = DatasetEdits()
    edits.relabel(base / "cat" / "a.png", "dog")
    edits.exclude(base / "dog" / "b.png")
    edits.move(base / "cat" / "c.png", "valid")
    edits.exclude(outside)
    data = edits.to_dict(base=base)
    assert data["relabelled"] == {"cat/a.png": "dog"} and data["moved"] == {"cat/c.png": "valid"}
    assert data["excluded"] == sorted(["dog/b.png", str(outside)])
    back = DatasetEdits.from_dict(data, base=elsewhere)
    assert back.relabelled == {elsewhere / "cat" / "a.png": "dog"}
    assert back.excluded == {elsewhere / "dog" / "b.png", outside}
    assert back.moved == {elsewhere / "cat" / "c.png": "valid"}
    with pytest.raises(ValueError):
        DatasetEdits.from_dict({"format": "something else"})
