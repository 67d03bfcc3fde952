"""Batch prediction without Qt: which dropped files are images, labelled folders,
accuracy and confusion from the predictions, CSV, and a real model in memory."""
from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from tlstudio.core.delivery.export import Prediction
from tlstudio.core.delivery.predict_batch import (
    CHUNK,
    expand_inputs,
    in_memory_model,
    is_model_file,
    run_batch,
    score,
    write_csv,
)
from tlstudio.core.events import ListReporter, Progress


def labelled_folder(root: Path, spec, per_class: int = 2) -> Path:
    """root/valid/<class>/*.png copied from the tiny set's validation images, plus a stray note."""
    for label in spec.classes:
        items = [spec.items[i] for i in spec.indices("valid") if spec.labels[i] == label][:per_class]
        for item in items:
            dest = root / "valid" / label / item.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item, dest)
    (root / "README.txt").write_text("not an image")
    return root


def test_folders_expand_to_their_images_and_every_other_file_is_named(tmp_path):
    folder = tmp_path / "drop"
    (folder / "cat").mkdir(parents=True)
    (folder / "cat" / "b.png").write_bytes(b"x")
    (folder / "cat" / "a.JPG").write_bytes(b"x")
    (folder / "loose.png").write_bytes(b"x")
    (folder / "notes.txt").write_text("hi")
    model = tmp_path / "model.pkl"
    model.write_bytes(b"x")
    single = tmp_path / "single.webp"
    single.write_bytes(b"x")

    inputs = expand_inputs([folder, single, model, tmp_path / "gone.png", single], classes=["cat", "dog"])

    assert inputs.images == [folder / "cat" / "a.JPG", folder / "cat" / "b.png", folder / "loose.png", single]
    assert inputs.truth == {folder / "cat" / "a.JPG": "cat", folder / "cat" / "b.png": "cat"}
    assert inputs.labelled_folders == [folder]
    assert [(s.path.name, s.reason, s.detail) for s in inputs.skipped] == [
        ("notes.txt", "not-an-image", "'notes.txt' is not an image file"),
        ("model.pkl", "not-an-image", "'model.pkl' is a model file, not an image"),
        ("gone.png", "missing", "'gone.png' does not exist"),
    ]


def test_only_subfolders_named_after_a_class_label_their_images(tmp_path):
    bag = tmp_path / "bag"
    (bag / "holiday").mkdir(parents=True)
    (bag / "1.png").write_bytes(b"x")
    (bag / "holiday" / "2.png").write_bytes(b"x")
    inputs = expand_inputs([bag], classes=["bag", "shoe"])
    assert len(inputs.images) == 2
    assert inputs.truth == {} and inputs.labelled_folders == []  # the dropped folder's own name is no label


def test_score_is_the_confusion_of_predictions_with_a_known_class(tmp_path):
    a, b, c, d, e = (tmp_path / f"{n}.png" for n in "abcde")
    predictions = [
        Prediction(a, "cat", 0.9, [("cat", 0.9)]),
        Prediction(b, "dog", 0.6, [("dog", 0.6)]),
        Prediction(c, "dog", 0.8, [("dog", 0.8)]),
        Prediction(d, None, None, [], f"{d}: cannot read image"),
        Prediction(e, "cat", 0.7, [("cat", 0.7)]),  # no known class
    ]
    result = score(predictions, {a: "cat", b: "cat", c: "dog", d: "dog"}, ["cat", "dog"])
    assert result.confusion.tolist() == [[1, 1], [0, 1]]
    assert (result.n_scored, result.n_correct) == (3, 2)
    assert result.accuracy == pytest.approx(2 / 3)
    assert score(predictions, {}, ["cat", "dog"]) is None


def test_csv_has_a_row_per_image_with_its_ranking_truth_or_error(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b, odd.png"
    predictions = [
        Prediction(a, "dog", 0.75, [("dog", 0.75), ("cat", 0.2), ("fox", 0.05)]),
        Prediction(b, None, None, [], f"{b}: cannot read image (broken)"),
    ]
    (tmp_path / "out").mkdir()
    target = write_csv(tmp_path / "out" / "results.csv", predictions, {a: "cat"}, top_k=2)
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows == [
        ["path", "predicted", "probability", "actual", "correct", "label_1", "prob_1", "label_2", "prob_2", "error"],
        [str(a), "dog", "0.750000", "cat", "false", "dog", "0.750000", "cat", "0.200000", ""],
        [str(b), "", "", "", "", "", "", "", "", f"{b}: cannot read image (broken)"],
    ]
    assert [p.name for p in target.parent.iterdir()] == ["results.csv"]  # no temp file left


def test_model_files_are_known_by_suffix():
    assert all(is_model_file(Path(f"m{s}")) for s in (".tlsmodel", ".pkl", ".ONNX", ".pt"))
    assert not is_model_file(Path("m.png")) and not is_model_file(Path("model"))


def test_a_labelled_folder_is_predicted_and_scored_by_the_model_in_memory(trained_result, tmp_path):
    spec = trained_result.spec
    folder = labelled_folder(tmp_path / "check", spec)
    model = in_memory_model(trained_result.learn)
    reporter = ListReporter()

    result = run_batch(model, [folder], reporter=reporter)

    images = sorted((folder / "valid").rglob("*.png"))
    assert [p.path for p in result.predictions] == images and not result.cancelled
    assert all(len(p.top_k) == len(spec.classes) for p in result.predictions)  # every class ranked
    assert [s.path.name for s in result.inputs.skipped] == ["README.txt"]
    expected = np.zeros((3, 3), dtype=int)
    for p in result.predictions:
        expected[spec.classes.index(p.path.parent.name), spec.classes.index(p.label)] += 1
    assert result.score.confusion.tolist() == expected.tolist()
    assert result.score.accuracy == pytest.approx(np.trace(expected) / len(images))
    done = [e.done for e in reporter.of_type(Progress) if e.total]
    assert done == [len(images)]


def test_a_cancelled_batch_keeps_what_it_predicted(trained_result, tmp_path):
    spec = trained_result.spec
    folder = tmp_path / "many"
    folder.mkdir()
    source = spec.items[0]
    for i in range(CHUNK + 5):
        shutil.copyfile(source, folder / f"{i:03d}.png")
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, Progress) and e.done >= CHUNK)

    result = run_batch(in_memory_model(trained_result.learn), [folder], top_k=2, reporter=reporter)

    assert result.cancelled and len(result.predictions) == CHUNK
    assert len(result.inputs.images) == CHUNK + 5
    assert all(len(p.top_k) == 2 for p in result.predictions)
    assert result.score is None
