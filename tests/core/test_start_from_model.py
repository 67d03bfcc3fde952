"""Start from your own model: its body and layer groups carry over to a dataset with other classes, with a new head."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from cli_run import tlstudio
from fixtures_engine import make_tiny_spec

from tlstudio.core.events import ListReporter

OTHER_CLASSES = ("coat", "dress", "sandal", "shirt")


@pytest.fixture(scope="module")
def first(tiny_spec, tiny_config, tmp_path_factory):
    """A run on bag/sneaker/trouser whose body was trained (every group unfrozen, the last epoch kept)."""
    from tlstudio.core.project.train_run import train_in_project

    root = tmp_path_factory.mktemp("first") / "first.tlsproject"
    trained = train_in_project(root, tiny_spec, tiny_config.with_(unfreeze_depth=None, keep_best=False), ListReporter())
    assert trained.outcome.status == "completed"
    return SimpleNamespace(root=root, run=trained.outcome.folder)


@pytest.fixture(scope="module")
def other_spec(tmp_path_factory, demo_dir):
    return make_tiny_spec(tmp_path_factory.mktemp("other"), demo_dir, classes=OTHER_CLASSES, per_class=8)


def _body(state: dict) -> dict:
    return {k: v for k, v in state.items() if k.startswith("0.")}


def test_the_body_comes_from_the_model_and_the_head_is_sized_for_the_new_classes(first, other_spec, tiny_config):
    from tlstudio.core.training import run as training
    from tlstudio.core.delivery.model_file import read_tlsmodel
    from tlstudio.core.models.groups import layer_groups
    from tlstudio.core.project.starting_model import learner_from_model, project_models, starting_model

    start = starting_model(first.run)
    assert start.classes == ("bag", "sneaker", "trouser") and start.architecture == "mobilenet_v2"
    assert start.label == "run 001 of first.tlsproject"
    assert project_models(first.root) == [start]
    _, state = read_tlsmodel(start.path)
    learn = learner_from_model(other_spec, tiny_config, start)
    ours = learn.model.state_dict()
    assert all(torch.equal(ours[k].cpu(), v) for k, v in _body(state).items())
    assert set(_body(ours)) == set(_body(state))
    imagenet = _body(training.prepare_learner(other_spec, tiny_config).model.state_dict())
    changed = [k for k, v in _body(state).items() if not torch.equal(v, imagenet[k].cpu())]
    assert changed  # the first run trained the body, so carrying it over is not the ImageNet weights again
    assert learn.model[1][-1].out_features == len(OTHER_CLASSES) and list(learn.dls.vocab) == list(OTHER_CLASSES)
    assert tuple(g.name for g in layer_groups(learn)) == start.layer_groups
    assert all(not p.requires_grad for p in learn.model[0].parameters() if p.ndim > 1)  # the body starts frozen


def test_train_from_a_run_folder_on_other_classes_keeps_the_body(first, other_spec, tmp_path, capsys):
    from tlstudio.core.delivery.model_file import read_tlsmodel
    from tlstudio.core.project.runs import list_runs

    project = tmp_path / "second.tlsproject"
    run = tlstudio(capsys, "train", other_spec.root, "--from", first.run, "--project", project, "--size", "32",
                   "--bs", "8", "--device", "cpu", "--freeze-epochs", "1", "--epochs", "0")
    assert run.rc == 0, run.err
    assert "Starting from run 001 of first.tlsproject: mobilenet_v2" in run.err
    (record,) = list_runs(project)
    assert record.start_from["label"] == "run 001 of first.tlsproject"
    meta, state = read_tlsmodel(record.folder / "model.tlsmodel")
    _, start_state = read_tlsmodel(first.run / "model.tlsmodel")
    assert meta["classes"] == list(OTHER_CLASSES)
    # Only the head trained (the body stays frozen in stage 1, and 32 training images adapt no BatchNorm).
    assert all(torch.equal(state[k], v) for k, v in _body(start_state).items())
    linear = sorted((k for k in state if k.startswith("1.") and state[k].ndim == 2), key=lambda k: int(k.split(".")[1]))
    assert state[linear[-1]].shape[0] == len(OTHER_CLASSES)  # the head's last layer (safetensors sorts keys by name)


def test_a_starting_point_that_is_no_model_is_one_line(first, tmp_path, capsys, other_spec):
    from tlstudio.core.project.layout import ProjectError
    from tlstudio.core.project.starting_model import starting_model

    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ProjectError, match="start from a .tlsmodel or a project's run folder"):
        starting_model(tmp_path / "notes.txt")
    with pytest.raises(ProjectError, match="neither a .tlsmodel nor a run folder"):
        starting_model(tmp_path)
    (tmp_path / "fake.tlsmodel").write_bytes(b"PK not really")
    with pytest.raises(ProjectError, match="not a readable TL Studio model file"):
        starting_model(tmp_path / "fake.tlsmodel")
    run = tlstudio(capsys, "train", other_spec.root, "--from", tmp_path / "missing.tlsmodel", "--device", "cpu")
    assert run.rc == 2 and run.err.strip().endswith("missing.tlsmodel: no such model file")


def test_the_lr_finder_probes_the_model_the_run_starts_from(first, other_spec, tiny_config):
    """With your own model chosen, the finder's learner has that model's body: the same seed and
    head give another curve than from ImageNet's, and the finder says where it started."""
    import numpy as np

    from tlstudio.core.events import Message
    from tlstudio.core.jobs.training import LrFindJob

    config = tiny_config.with_(seed=3)
    runs = {}
    for name, start in (("imagenet", None), ("own", str(first.run))):
        reporter = ListReporter()
        runs[name] = (LrFindJob(other_spec, config, 2, {"num_it": 8}, start_from=start)(reporter), reporter.events)
    (imagenet, _), (own, events) = runs["imagenet"], runs["own"]
    assert len(own.lrs) == len(imagenet.lrs) == 8 and own.suggestions
    assert any(isinstance(e, Message) and "starts from run 001 of first" in e.text for e in events)
    assert not np.allclose(own.losses[:3], imagenet.losses[:3])
