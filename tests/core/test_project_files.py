"""The project format: project.json and a run's JSON files round-trip, open without pickle, refuse what is not theirs."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from fixtures_engine import make_tiny_spec
from no_pickle import no_pickle

from tlstudio.core.config import AugmentConfig, TrainConfig
from tlstudio.core.dataset.scan import scan
from tlstudio.core.project.config_json import config_from_dict, config_to_dict
from tlstudio.core.project.dataset_ref import DatasetMismatchError, DatasetMovedError, ScanSettings
from tlstudio.core.project.layout import ProjectError, project_dir
from tlstudio.core.project.project_file import (
    create_project,
    open_dataset,
    open_project,
    relocate_dataset,
    set_pages,
)

PAGES = {
    "model": {"arch": "resnet18", "unfreeze": 3},
    "lr": {"curve": {"lrs": [1e-5, 1e-3, 1e-1], "losses": [2.3, 1.1, 9.5]}, "chosen": 2.5e-3, "suggestion": "valley"},
    "augment": {"preset": "light", "size": 96},
    "evaluate": {"split": "valid", "cell": [1, 2]},
}


@pytest.fixture
def data(tmp_path, demo_dir):
    make_tiny_spec(tmp_path / "data", demo_dir, classes=("bag", "sneaker"), per_class=6)
    return tmp_path / "data"


def test_a_project_round_trips_its_dataset_and_every_pages_choices(data, tmp_path):
    spec = scan(data)
    project = create_project(tmp_path / "demo.tlsproject", spec, ScanSettings(seed=7))
    project = set_pages(project, PAGES)
    PAGES["model"]["arch"] = "changed after saving"  # the project kept its own copy
    with no_pickle():
        again = open_project(tmp_path / "demo.tlsproject")
    assert again.pages["model"]["arch"] == "resnet18"
    assert again.pages["lr"] == {"curve": {"lrs": [1e-5, 1e-3, 1e-1], "losses": [2.3, 1.1, 9.5]},
                                 "chosen": 2.5e-3, "suggestion": "valley"}
    assert again.dataset == project.dataset and again.name == "demo"
    assert again.dataset.location == str(data.resolve()) and again.dataset.relative == "../data"
    assert again.dataset.classes == ("bag", "sneaker") and again.dataset.n_items == 12
    assert again.dataset.scan.seed == 7
    raw = json.loads((tmp_path / "demo.tlsproject" / "project.json").read_text())
    assert raw["format"] == "tlstudio-project" and raw["format_version"] == 1
    assert (tmp_path / "demo.tlsproject" / "runs").is_dir()


def test_pages_must_be_json_and_a_project_is_never_made_over_other_files(data, tmp_path):
    spec = scan(data)
    project = create_project(tmp_path / "p.tlsproject", spec, ScanSettings())
    with pytest.raises(ProjectError, match="JSON values only"):
        set_pages(project, {"model": {"arch": object()}})
    with pytest.raises(ProjectError, match="already a project"):
        create_project(tmp_path / "p.tlsproject", spec, ScanSettings())
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ProjectError, match="not an empty folder"):
        create_project(tmp_path / "busy", spec, ScanSettings())
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    assert project_dir(tmp_path / "demo") == tmp_path / "demo.tlsproject"


@pytest.mark.parametrize("content, message", [
    ("{not json", "not readable JSON"),
    ('{"format": "something-else"}', "not a TL Studio project file"),
    ('{"format": "tlstudio-project", "format_version": 99, "dataset": {}}', "newer TL Studio"),
    ('{"format": "tlstudio-project", "format_version": 1, "dataset": {"location": "x"}}', "dataset entry is incomplete"),
])
def test_a_damaged_project_file_is_one_line_naming_it(tmp_path, content, message):
    root = tmp_path / "bad.tlsproject"
    root.mkdir()
    (root / "project.json").write_text(content)
    with pytest.raises(ProjectError, match=message) as err:
        open_project(root)
    assert str(root / "project.json") in str(err.value) and "\n" not in str(err.value)


def test_a_moved_dataset_is_found_again_only_where_its_fingerprint_matches(data, tmp_path, demo_dir):
    project = create_project(tmp_path / "p.tlsproject", scan(data), ScanSettings())
    moved = tmp_path / "elsewhere" / "data"
    moved.parent.mkdir()
    shutil.move(data, moved)
    with pytest.raises(DatasetMovedError, match="no longer there"):
        open_dataset(project)
    other = make_tiny_spec(tmp_path / "other", demo_dir, classes=("bag", "coat"), per_class=6).root
    with pytest.raises(DatasetMismatchError, match="not the project's dataset"):
        relocate_dataset(project, other)
    (moved / "train" / "bag" / sorted((moved / "train" / "bag").iterdir())[0].name).unlink()
    with pytest.raises(DatasetMismatchError, match="11 images"):
        relocate_dataset(project, moved)  # one image less: not the same dataset
    shutil.copyfile(next((tmp_path / "other" / "train" / "bag").iterdir()), moved / "train" / "bag" / "x.png")
    with pytest.raises(DatasetMismatchError):
        relocate_dataset(project, moved)  # as many images, but not the same ones
    (moved / "train" / "bag" / "x.png").unlink()
    shutil.rmtree(moved)
    make_tiny_spec(moved, demo_dir, classes=("bag", "sneaker"), per_class=6)  # the same files again
    project, spec = relocate_dataset(project, moved)
    assert open_project(project.root).dataset.location == str(moved.resolve())
    assert len(spec.items) == 12


def test_a_project_moved_with_its_dataset_finds_it_beside_it(data, tmp_path):
    create_project(tmp_path / "p.tlsproject", scan(data), ScanSettings())
    shutil.move(tmp_path, tmp_path.with_name(tmp_path.name + "-moved"))
    new = tmp_path.with_name(tmp_path.name + "-moved")
    try:
        project, spec = open_dataset(open_project(new / "p.tlsproject"))
        assert project.dataset.location == str((new / "data").resolve())
        assert open_project(new / "p.tlsproject").dataset.location == str((new / "data").resolve())
    finally:
        shutil.move(new, tmp_path)


def test_a_train_config_round_trips_and_a_wrong_one_is_named(tmp_path):
    config = TrainConfig(arch="resnet18", augment=AugmentConfig(size=64, max_rotate=3.5), bs=16, unfreeze_depth=3,
                         early_stopping_patience=2, weights_file=tmp_path / "w.pth", seed=None)
    data = json.loads(json.dumps(config_to_dict(config)))
    assert config_from_dict(data, tmp_path / "c.json") == config
    older = {k: v for k, v in data.items() if k != "keep_best"}  # a file from before a setting existed
    assert config_from_dict(older, tmp_path / "c.json").keep_best == TrainConfig().keep_best
    with pytest.raises(ProjectError, match="unknown setting augment.sharpen"):
        config_from_dict({**data, "augment": {**data["augment"], "sharpen": 1}}, tmp_path / "c.json")
    with pytest.raises(ProjectError, match="setting bs has the wrong type"):
        config_from_dict({**data, "bs": "sixteen"}, tmp_path / "c.json")


def test_an_evaluation_round_trips_to_the_same_interpretation(trained_result, tiny_spec, tmp_path):
    from tlstudio.core.delivery.interpret import interpret
    from tlstudio.core.project.evaluation import dataset_base, load_evaluation, save_evaluation

    interp = interpret(trained_result.learn, tiny_spec, "valid")
    base = dataset_base(tiny_spec)
    save_evaluation(tmp_path / "evaluation.json", interp, base)
    raw = json.loads((tmp_path / "evaluation.json").read_text())
    assert raw["confusion"] == interp.confusion.tolist()
    assert raw["per_class"]["f1"] == interp.scores.f1.tolist()
    top = raw["top_losses"][0]
    assert top["path"] == interp.top_losses(1)[0].path.relative_to(base).as_posix()  # relative to the dataset
    with no_pickle():
        again = load_evaluation(tmp_path / "evaluation.json", base)
    assert again.paths == interp.paths and again.classes == interp.classes
    np.testing.assert_array_equal(again.confusion, interp.confusion)
    np.testing.assert_allclose(again.probs, interp.probs, rtol=1e-6)
    assert again.accuracy == interp.accuracy and again.macro_auc == pytest.approx(interp.macro_auc)
    assert [t.path for t in again.top_losses()] == [t.path for t in interp.top_losses()]
    for a, b in zip(again.roc, interp.roc):
        np.testing.assert_allclose(a.tpr, b.tpr)
    moved = load_evaluation(tmp_path / "evaluation.json", tmp_path / "moved")
    assert moved.paths[0] == tmp_path / "moved" / interp.paths[0].relative_to(base)


def test_a_history_round_trips(trained_run):
    from tlstudio.core.events import BatchEnd
    from tlstudio.core.project.history import HistoryRecorder, RunHistory

    recorder = HistoryRecorder(inner=type("Quiet", (), {"emit": lambda self, e: None})())
    for event in trained_run.events:
        recorder.emit(event)
    batches = [e for e in trained_run.events if isinstance(e, BatchEnd)]
    history = RunHistory(trained_run.result.history, recorder.batches(), trained_run.result.kept_epoch)
    again = RunHistory.from_dict(json.loads(json.dumps(history.to_dict())), "history.json")
    assert again.epochs == trained_run.result.history and again.kept_epoch == trained_run.result.kept_epoch
    assert again.batches.iteration.tolist() == [e.iteration for e in batches]
    np.testing.assert_allclose(again.batches.smooth_loss, [e.smooth_loss for e in batches])
    assert recorder.batches(up_to_iteration=2).iteration.tolist() == [1, 2]


def test_save_as_copies_the_whole_project_and_keeps_its_dataset(data, tmp_path):
    from tlstudio.core.project.project_file import save_project_as
    from tlstudio.core.project.runs import list_runs, new_run

    project = set_pages(create_project(tmp_path / "a.tlsproject", scan(data), ScanSettings()), PAGES)
    new_run(project.root, TrainConfig(bs=4), dataset_fingerprint=project.dataset.fingerprint)
    (tmp_path / "sub").mkdir()
    copy = save_project_as(project, tmp_path / "sub" / "b.tlsproject")
    again = open_project(tmp_path / "sub" / "b.tlsproject")
    assert again.pages == open_project(project.root).pages and again.root == copy.root
    assert again.dataset.location == project.dataset.location and again.dataset.relative == "../../data"
    (run,) = list_runs(again.root)
    assert run.number == 1 and run.folder.parent.parent == again.root
    assert open_project(project.root).dataset.relative == "../data"  # the original is as it was
    with pytest.raises(ProjectError, match="already exists"):
        save_project_as(project, tmp_path / "sub" / "b.tlsproject")
