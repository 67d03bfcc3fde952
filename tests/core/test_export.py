"""Export: verified round trip, a fresh process predicts identically, sidecar, clear errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tlstudio.core.events import ListReporter, Progress
from tlstudio.core.export import (
    ModelFileError,
    UntrustedModelError,
    dataset_fingerprint,
    export_model,
    load_model,
    predict,
    sha256_file,
)


@pytest.fixture(scope="module")
def exported(trained_result, tmp_path_factory):
    from fastai.callback.core import Callback

    class HoldsAReporter(Callback):
        """Stands for a GUI callback left on the learner: it must not reach the pickle."""

        def __init__(self):
            self.reporter = ListReporter()
            self.unpicklable = lambda: None

    folder = tmp_path_factory.mktemp("export")
    reporter = ListReporter()
    learn = trained_result.learn
    stray = HoldsAReporter()
    with learn.added_cbs([stray]):
        report = export_model(
            learn,
            folder / "model.pkl",
            spec=trained_result.spec,
            config=trained_result.config,
            metrics=trained_result.final_metrics,
            reporter=reporter,
        )
        assert stray in learn.cbs, "export leaves the learner's callbacks as they were"
    return report, reporter


def valid_paths(spec) -> list[Path]:
    return [Path(spec.items[i]) for i in spec.indices("valid")]


def in_memory_probs(learn, paths) -> np.ndarray:
    import pandas as pd

    dl = learn.dls.test_dl(pd.DataFrame({"path": [str(p) for p in paths]}))
    with learn.no_bar():
        probs, _ = learn.get_preds(dl=dl)
    return probs.numpy()


def test_export_is_verified_and_atomic(exported, trained_result):
    report, reporter = exported
    assert report.path.is_file() and report.sidecar == report.path.with_suffix(".json")
    assert report.verified, report.message
    assert report.n_checked == len(trained_result.spec.indices("valid")) and report.mismatches == 0
    assert report.max_prob_diff <= 1e-5
    assert "verified" in report.message
    assert sorted(p.name for p in report.path.parent.iterdir()) == ["model.json", "model.pkl"], "no temp files left"
    steps = reporter.of_type(Progress)
    assert steps[0].done == 0 and steps[-1].done == steps[-1].total


def test_exporting_again_to_the_same_path_replaces_both_files(trained_result, tmp_path):
    target = tmp_path / "again.pkl"
    kwargs = dict(spec=trained_result.spec, config=trained_result.config)
    first = export_model(trained_result.learn, target, verify=False, metrics={"accuracy": 0.0}, **kwargs)
    second = export_model(trained_result.learn, target, metrics={"accuracy": 1.0}, **kwargs)
    assert not first.verified and second.verified, second.message
    assert json.loads(target.with_suffix(".json").read_text())["metrics"] == {"accuracy": 1.0}
    assert load_model(target).metadata["sha256"] == sha256_file(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.json", "again.pkl"]


def test_sidecar_describes_the_model(exported, trained_result):
    report, _ = exported
    meta = json.loads(report.sidecar.read_text(encoding="utf-8"))
    config, spec = trained_result.config, trained_result.spec
    assert meta["format"] == "tlstudio-model"
    assert meta["classes"] == spec.classes
    assert meta["architecture"] == config.arch
    assert meta["input_size"] == config.augment.size and meta["resize_method"] == config.augment.resize_method
    assert meta["normalization"]["mean"] == pytest.approx([0.485, 0.456, 0.406])
    assert meta["normalization"]["std"] == pytest.approx([0.229, 0.224, 0.225])
    assert meta["metrics"]["accuracy"] == pytest.approx(trained_result.final_metrics["accuracy"])
    assert meta["dataset"]["fingerprint"] == dataset_fingerprint(spec)
    assert meta["sha256"] == sha256_file(report.path)
    assert set(meta["versions"]) >= {"tlstudio", "fastai", "torch", "torchvision", "python"}
    assert meta["verification"]["verified"] is True
    assert meta["created"].endswith("+00:00")


def test_fresh_process_predicts_identically(exported, trained_result, tmp_path):
    """`tlstudio predict` in a new process, from an empty folder where no test
    code is importable: the file needs nothing but tlstudio to load."""
    report, _ = exported
    paths = valid_paths(trained_result.spec)
    out = subprocess.run(
        [sys.executable, "-m", "tlstudio", "predict", str(report.path), *map(str, paths), "--top-k", "99", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    theirs = json.loads(out.stdout)
    assert [Path(p["path"]) for p in theirs] == paths
    classes = trained_result.spec.classes
    probs = np.array([[{t["label"]: t["prob"] for t in p["top_k"]}[c] for c in classes] for p in theirs])
    ours = in_memory_probs(trained_result.learn, paths)
    np.testing.assert_allclose(probs, ours, atol=1e-5)
    np.testing.assert_array_equal(probs.argmax(1), ours.argmax(1))


def test_predict_reports_a_corrupt_image_per_item(exported, trained_result, tmp_path):
    report, _ = exported
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    good = valid_paths(trained_result.spec)[:2]
    model = load_model(report.path)
    assert model.metadata["sha256"] == sha256_file(report.path) and model.classes == trained_result.spec.classes
    preds = predict(model, [good[0], broken, tmp_path / "missing.jpg", good[1]], top_k=2)
    assert [p.path for p in preds] == [good[0], broken, tmp_path / "missing.jpg", good[1]]
    assert preds[1].label is None and "broken.png" in preds[1].error and "cannot read image" in preds[1].error
    assert preds[2].error.endswith("no such file")
    expected = in_memory_probs(trained_result.learn, good)
    for pred, row in zip((preds[0], preds[3]), expected):
        assert pred.error is None and len(pred.top_k) == 2
        assert pred.label == trained_result.spec.classes[int(row.argmax())]
        assert pred.prob == pytest.approx(float(row.max()), abs=1e-5)
        assert pred.top_k[0][1] >= pred.top_k[1][1]


def test_not_a_model_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"this is not a pickle at all")
    with pytest.raises(ModelFileError, match=r"junk\.pkl: not a TL Studio or fastai model file"):
        load_model(junk, trust=True)
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "absent.pkl")


def test_a_changed_model_file_is_refused(exported, tmp_path):
    report, _ = exported
    copy, sidecar = tmp_path / "copy.pkl", tmp_path / "copy.json"
    sidecar.write_bytes(report.sidecar.read_bytes())
    copy.write_bytes(report.path.read_bytes() + b"\0")
    with pytest.raises(ModelFileError, match="changed after export"):
        load_model(copy)


def test_a_pickle_from_another_machine_loads_only_when_trusted(exported, tmp_path, monkeypatch):
    report, _ = exported
    monkeypatch.setenv("TLSTUDIO_DATA_DIR", str(tmp_path / "another-machine"))
    foreign = tmp_path / "foreign.pkl"
    foreign.write_bytes(report.path.read_bytes())
    with pytest.raises(UntrustedModelError, match=r"foreign\.pkl: was not exported by TL Studio on this machine"):
        load_model(foreign)
    model = load_model(foreign, trust=True)
    assert model.metadata is None and model.classes == ["bag", "sneaker", "trouser"]
