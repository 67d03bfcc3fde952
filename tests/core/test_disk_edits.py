"""Apply an edit list to the files, and undo it: files moved, never deleted or overwritten, then byte for byte back."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tlstudio.core.dataset import disk_edits
from tlstudio.core.dataset import edit_store
from tlstudio.core.dataset.spec import DatasetError
from tlstudio.core.dataset.scan import scan
from tlstudio.core.dataset.edits import DatasetEdits
from tlstudio.core.events import ListReporter


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` (folders too) with its bytes (None for a folder)."""
    return {p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


def copy_demo(demo_dir: Path, root: Path, classes=("bag", "coat", "dress"), n=5, splits=False) -> Path:
    for cls in classes:
        for i, src in enumerate(sorted((demo_dir / cls).glob("*.png"))[:n]):
            folder = root / ("val" if i < 2 else "train") / cls if splits else root / cls
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, folder / src.name)
    return root


def of_class(spec, label):
    return [p for p, l in zip(spec.items, spec.labels) if l == label]


def test_apply_moves_the_files_and_undo_restores_the_folder_byte_for_byte(tmp_path, demo_dir):
    root = copy_demo(demo_dir, tmp_path / "data")
    spec = scan(root)
    bag, coat = of_class(spec, "bag"), of_class(spec, "coat")
    taken = root / "dress" / coat[0].name  # the relabelled coat's name is taken in dress/: it must not be overwritten
    taken.write_bytes(b"someone else's file")
    spec = scan(root)
    before = tree(root)
    edits = DatasetEdits()
    edits.exclude(bag[0])
    edits.relabel(bag[1], "coat")
    edits.relabel(coat[0], "dress")
    edits.relabel(coat[1], "boot")  # a new class: a new folder
    edits.move(coat[2], "valid")  # a random split: the files cannot hold it
    log = tmp_path / "undo.json"
    reporter = ListReporter()

    result = disk_edits.apply_to_disk(spec, edits, log, reporter)
    assert not result.failed and not result.cancelled and len(result.moved) == 4
    assert not bag[0].exists() and (root / "_removed" / "bag" / bag[0].name).read_bytes() == before[f"bag/{bag[0].name}"]
    assert (root / "coat" / bag[1].name).exists() and (root / "boot" / coat[1].name).exists()
    renamed = root / "dress" / f"{coat[0].stem} (2){coat[0].suffix}"
    assert renamed.read_bytes() == before[f"coat/{coat[0].name}"] and taken.read_bytes() == b"someone else's file"
    assert result.plan.kept == DatasetEdits(moved={coat[2]: "valid"})  # what the files cannot hold stays an edit
    assert [e.done for e in reporter.events] == [1, 2, 3, 4]
    files_before = sorted(k for k, v in before.items() if v is not None)
    files_after = sorted(k for k, v in tree(root).items() if v is not None)
    assert len(files_after) == len(files_before)  # nothing deleted
    logged = json.loads(log.read_text())
    assert len(logged["moves"]) == 4 and logged["folders"] == [str(root / "_removed"), str(root / "_removed" / "bag"),
                                                                str(root / "boot")]

    rescanned = scan(root)
    assert rescanned.class_counts() == {"bag": 3, "boot": 1, "coat": 4, "dress": 6}
    assert any(s.path == root / "_removed" for s in rescanned.skipped)  # the removed images are not trained on
    assert edit_store.dataset_key(rescanned) == edit_store.dataset_key(disk_edits.applied_spec(spec, result))

    undone = disk_edits.undo(log)
    assert undone.restored == 4 and undone.problems == []
    assert tree(root) == before
    assert json.loads(log.read_text())["undone"] is True
    with pytest.raises(DatasetError, match="already undone"):
        disk_edits.undo(log)


def test_split_folders_move_between_split_folders(tmp_path, demo_dir):
    root = copy_demo(demo_dir, tmp_path / "data", splits=True)
    spec = scan(root)
    assert spec.seed is None  # every split from its folder
    valid_bag = next(p for p, l, s in zip(spec.items, spec.labels, spec.splits) if l == "bag" and s == "valid")
    train_coat = next(p for p, l, s in zip(spec.items, spec.labels, spec.splits) if l == "coat" and s == "train")
    before = tree(root)
    edits = DatasetEdits()
    edits.move(valid_bag, "train")
    edits.relabel(train_coat, "dress")
    edits.move(train_coat, "test")
    result = disk_edits.apply_to_disk(spec, edits, tmp_path / "undo.json")
    assert (root / "train" / "bag" / valid_bag.name).exists() and (root / "test" / "dress" / train_coat.name).exists()
    assert len(result.plan.kept) == 0
    after = scan(root)
    assert after.split_counts() == {"train": spec.split_counts()["train"], "valid": spec.split_counts()["valid"] - 1,
                                    "test": 1}
    disk_edits.undo(tmp_path / "undo.json")
    assert tree(root) == before


def test_a_cancel_keeps_the_moves_not_done_as_edits(tmp_path, demo_dir):
    root = copy_demo(demo_dir, tmp_path / "data")
    spec = scan(root)
    before = tree(root)
    edits = DatasetEdits()
    for p in of_class(spec, "bag")[:3]:
        edits.relabel(p, "coat")
    reporter = ListReporter(cancel_when=lambda e: getattr(e, "done", 0) >= 1)
    result = disk_edits.apply_to_disk(spec, edits, tmp_path / "undo.json", reporter)
    assert result.cancelled and len(result.moved) == 1
    assert result.plan.kept == DatasetEdits(relabelled={p: "coat" for p in of_class(spec, "bag")[:3]
                                                        if p != result.moved[0].source})
    disk_edits.undo(tmp_path / "undo.json")  # the log names all three; undo moves back the one that moved
    assert tree(root) == before


def test_labels_that_cannot_be_folders_stay_edits(tmp_path, demo_dir):
    root = copy_demo(demo_dir, tmp_path / "data")
    spec = scan(root)
    before = tree(root)
    bag = of_class(spec, "bag")
    edits = DatasetEdits()
    for p, label in zip(bag, ("../up", "_removed", "train", ".hidden")):
        edits.relabel(p, label)
    result = disk_edits.apply_to_disk(spec, edits, tmp_path / "undo.json")
    assert result.moved == [] and len(result.plan.notes) == 4 and len(result.plan.kept) == 4
    assert tree(root) == before


@pytest.mark.parametrize("layout", ["csv", "zip"])
def test_other_layouts_get_one_clear_line(tmp_path, demo_dir, layout, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    root = copy_demo(demo_dir, tmp_path / "data")
    if layout == "csv":
        rows = [f"{p.relative_to(root).as_posix()},{p.parent.name}" for p in sorted(root.rglob("*.png"))]
        (root / "labels.csv").write_text("file,label\n" + "\n".join(rows) + "\n")
        spec = scan(root / "labels.csv")
    else:
        spec = scan(shutil.make_archive(str(tmp_path / "data"), "zip", root))
    edits = DatasetEdits()
    edits.exclude(spec.items[0])
    with pytest.raises(DatasetError) as err:
        disk_edits.apply_to_disk(spec, edits, tmp_path / "undo.json")
    assert "\n" not in str(err.value) and ("CSV" in str(err.value) if layout == "csv" else ".zip" in str(err.value))
    assert not (tmp_path / "undo.json").exists()


def test_undo_leaves_a_file_whose_old_name_is_taken_again(tmp_path, demo_dir):
    root = copy_demo(demo_dir, tmp_path / "data")
    spec = scan(root)
    bag = of_class(spec, "bag")[0]
    edits = DatasetEdits()
    edits.exclude(bag)
    disk_edits.apply_to_disk(spec, edits, tmp_path / "undo.json")
    bag.write_bytes(b"new file under the old name")
    result = disk_edits.undo(tmp_path / "undo.json")
    assert result.restored == 0 and len(result.problems) == 3  # the file, and _removed/bag and _removed are not empty
    assert bag.read_bytes() == b"new file under the old name" and (root / "_removed" / "bag" / bag.name).exists()
    bag.rename(tmp_path / "set aside.png")
    again = disk_edits.undo(tmp_path / "undo.json")  # once the name is free again, the rest moves back
    assert again.restored == 1 and again.problems == [] and not (root / "_removed").exists()


def test_a_broken_undo_log_is_one_clear_line(tmp_path):
    log = tmp_path / "undo.json"
    log.write_text("{not json")
    with pytest.raises(DatasetError, match="cannot read the undo log"):
        disk_edits.undo(log)


def test_a_no_replace_move_never_overwrites(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("a")
    b.write_text("b")
    with pytest.raises(FileExistsError):
        disk_edits._move_no_replace(a, b)
    assert a.read_text() == "a" and b.read_text() == "b"
    os.symlink(a, tmp_path / "link")
    disk_edits._move_no_replace(tmp_path / "link", tmp_path / "moved")
    assert (tmp_path / "moved").is_symlink() and not (tmp_path / "link").exists()  # the link moves, not its file
