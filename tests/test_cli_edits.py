"""The edit list from the command line: `train --edits`, `train --imbalance`, `doctor --apply` and `--undo`."""
from __future__ import annotations

import shutil

from core.cli_run import tlstudio

from tlstudio.core.dataset.scan import scan
from tlstudio.core.dataset.edits import DatasetEdits

TINY = ["--size", "32", "--bs", "8", "--device", "cpu", "--freeze-epochs", "1", "--epochs", "0"]


def tree(root):
    return {p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


def test_train_applies_the_edit_list_and_the_imbalance_fix(tiny_spec, tmp_path, capsys):
    before = tree(tiny_spec.root)
    bags = [p for p, l in zip(tiny_spec.items, tiny_spec.labels) if l == "bag"]
    edits = DatasetEdits()
    edits.exclude(bags[0])
    edits.exclude(bags[1])
    edits.relabel(bags[2], "boot")
    edits.relabel(tmp_path / "gone.png", "bag")
    edits.save(tmp_path / "edits.json")
    run = tlstudio(capsys, "train", tiny_spec.root, *TINY, "--edits", tmp_path / "edits.json", "--imbalance", "loss_weights")
    assert run.rc == 0, run.err[-2000:]
    assert "2 excluded, 2 relabelled; 1 names no image of this dataset and is ignored" in run.err
    n = len(tiny_spec) - 2
    assert f"{n} images, 4 classes" in run.err  # boot is a class now: the run trained on the edited dataset
    assert "Completed 1 epochs" in run.err
    assert tree(tiny_spec.root) == before  # the files stay as they were


def test_train_refuses_an_unknown_imbalance_fix(tiny_spec, capsys):
    import pytest

    with pytest.raises(SystemExit):
        tlstudio(capsys, "train", tiny_spec.root, *TINY, "--imbalance", "smote")
    assert "invalid choice: 'smote'" in capsys.readouterr().err


def test_doctor_apply_then_undo_leaves_the_folder_byte_identical(tmp_path, demo_dir, capsys):
    root = tmp_path / "data"
    for cls in ("bag", "coat"):
        for src in sorted((demo_dir / cls).glob("*.png"))[:4]:
            (root / cls).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, root / cls / src.name)
    spec = scan(root)
    before = tree(root)
    edits = DatasetEdits()
    edits.exclude(spec.items[0])
    edits.relabel(spec.items[1], "coat")
    edits.move(spec.items[5], "valid")
    edits.save(tmp_path / "edits.json")
    log = tmp_path / "undo.json"
    run = tlstudio(capsys, "doctor", root, "--apply", tmp_path / "edits.json", "--undo-log", log)
    assert run.rc == 0, run.err
    assert "Moved 2 of 2 files (1 excluded, 1 relabelled, 1 moved to another split" in run.err
    assert f"To undo: tlstudio doctor --undo {log}" in run.err
    kept = DatasetEdits.load(tmp_path / "undo.kept-edits.json")
    assert kept == DatasetEdits(moved={spec.items[5]: "valid"})
    assert scan(root).class_counts() == {"bag": 2, "coat": 5}
    assert tree(root) != before

    wrong = tlstudio(capsys, "doctor", tmp_path / "elsewhere", "--undo", log)
    assert wrong.rc == 2 and "undoes changes to" in wrong.err
    undo = tlstudio(capsys, "doctor", "--undo", log)
    assert undo.rc == 0 and "Moved 2 files back" in undo.err
    assert tree(root) == before


def test_doctor_apply_refuses_a_csv_dataset_in_one_line(tmp_path, demo_dir, capsys):
    root = tmp_path / "data"
    root.mkdir()
    src = sorted((demo_dir / "bag").glob("*.png"))[:2] + sorted((demo_dir / "coat").glob("*.png"))[:2]
    for p in src:
        shutil.copyfile(p, root / p.name)
    (root / "labels.csv").write_text("file,label\n" + "".join(f"{p.name},{p.parent.name}\n" for p in src))
    edits = DatasetEdits()
    edits.exclude(root / src[0].name)
    edits.save(tmp_path / "edits.json")
    run = tlstudio(capsys, "doctor", root / "labels.csv", "--apply", tmp_path / "edits.json")
    assert run.rc == 2
    (line,) = [l for l in run.err.splitlines() if "error" in l]
    assert "the labels come from a CSV file" in line


def test_doctor_without_data_or_undo_says_so(capsys):
    run = tlstudio(capsys, "doctor")
    assert run.rc == 2 and "give the dataset to check (DATA), or --undo LOG" in run.err
