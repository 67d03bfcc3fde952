"""Export to every format: verified in a fresh process, the sidecar, loading back, predicting, clear errors."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tlstudio.core.delivery.export import (
    ModelFileError,
    UntrustedModelError,
    dataset_fingerprint,
    export_model,
    load_model,
    loaded_from_learner,
    predict,
    sha256_file,
)
from tlstudio.core.events import ListReporter, Progress

SUFFIXES = {"tlsmodel": ".tlsmodel", "pkl": ".pkl", "onnx": ".onnx", "torchscript": ".pt"}
TOLERANCE = {"tlsmodel": 1e-5, "pkl": 1e-5, "torchscript": 1e-5, "onnx": 1e-4}


@pytest.fixture(scope="module")
def exported(trained_result, tmp_path_factory):
    """All four formats into one folder, each verified; a stray non-fastai callback rides along."""
    from fastai.callback.core import Callback

    class HoldsAReporter(Callback):
        """Stands for a GUI callback left on the learner: it must not reach any file."""

        def __init__(self):
            self.reporter = ListReporter()
            self.unpicklable = lambda: None

    folder = tmp_path_factory.mktemp("export")
    learn = trained_result.learn
    stray = HoldsAReporter()
    reports, reporters = {}, {}
    with learn.added_cbs([stray]):
        for fmt, suffix in SUFFIXES.items():
            reporters[fmt] = ListReporter()
            reports[fmt] = export_model(
                learn, folder / f"model{suffix}", spec=trained_result.spec, config=trained_result.config,
                metrics=trained_result.final_metrics, reporter=reporters[fmt],
            )
        assert stray in learn.cbs, "export leaves the learner's callbacks as they were"
    return reports, reporters


def valid_paths(spec) -> list[Path]:
    return [Path(spec.items[i]) for i in spec.indices("valid")]


def in_memory_probs(learn, paths) -> np.ndarray:
    import pandas as pd

    dl = learn.dls.test_dl(pd.DataFrame({"path": [str(p) for p in paths]}))
    with learn.no_bar():
        probs, _ = learn.get_preds(dl=dl)
    return probs.numpy()


@pytest.mark.parametrize("fmt", list(SUFFIXES))
def test_every_format_is_verified_in_a_fresh_process(exported, trained_result, fmt):
    reports, reporters = exported
    report = reports[fmt]
    v = report.verification
    assert report.format == fmt and report.path.suffix == SUFFIXES[fmt] and report.path.is_file()
    assert report.verified, report.message
    assert v.n_checked == len(trained_result.spec.indices("valid")) and v.mismatches == 0 and v.error is None
    assert 0 <= v.max_prob_diff <= TOLERANCE[fmt] and v.tolerance == TOLERANCE[fmt]
    assert "verified" in report.message and f"{v.max_prob_diff:.1e}" in report.message and v.runtime in report.message
    steps = reporters[fmt].of_type(Progress)
    assert steps[0].done == 0 and steps[-1].done == steps[-1].total
    side = json.loads(report.sidecar.read_text(encoding="utf-8"))
    assert side["sha256"] == sha256_file(report.path) and side["file_format"] == fmt
    assert side["verification"]["verified"] is True
    assert side["verification"]["max_prob_diff"] == pytest.approx(v.max_prob_diff, abs=0)


def test_the_folder_holds_only_the_files_and_sidecars(exported):
    reports, _ = exported
    folder = reports["pkl"].path.parent
    assert sorted(p.name for p in folder.iterdir()) == sorted([
        "model.tlsmodel", "model.tlsmodel.json", "model.pkl", "model.pkl.json",
        "model.onnx", "model.onnx.json", "model.pt", "model.pt.json", "predict.py",
    ]), "no staging folders, temp files or locks are left"
    assert reports["onnx"].extra_files == (folder / "predict.py",)


def test_sidecar_describes_the_model(exported, trained_result):
    reports, _ = exported
    meta = json.loads(reports["onnx"].sidecar.read_text(encoding="utf-8"))
    config, spec = trained_result.config, trained_result.spec
    assert meta["format"] == "tlstudio-model"
    assert meta["classes"] == spec.classes
    assert meta["architecture"] == config.arch
    assert meta["input_size"] == config.augment.size and meta["resize_method"] == config.augment.resize_method
    assert meta["normalization"]["mean"] == pytest.approx([0.485, 0.456, 0.406])
    assert meta["normalization"]["std"] == pytest.approx([0.229, 0.224, 0.225])
    assert meta["layer_groups"][-1] == "head" and len(meta["layer_groups"]) == 5
    assert meta["metrics"]["accuracy"] == pytest.approx(trained_result.final_metrics["accuracy"])
    assert meta["dataset"]["fingerprint"] == dataset_fingerprint(spec)
    assert set(meta["versions"]) >= {"tlstudio", "fastai", "torch", "torchvision", "python"}
    assert meta["input"]["shape"] == ["batch", 3, config.augment.size, config.augment.size]
    assert meta["output"]["name"] == "probabilities" and meta["onnx_opset"] >= 17
    assert meta["created"].endswith("+00:00")


def test_tlsmodel_is_safetensors_and_json_and_loads_without_unpickling(exported, trained_result, monkeypatch):
    import pickle

    import torch

    reports, _ = exported
    path = reports["tlsmodel"].path
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["model.json", "model.safetensors"]
        inside = json.loads(zf.read("model.json"))
    assert inside["classes"] == trained_result.spec.classes and inside["architecture"] == "mobilenet_v2"

    def refuse(*args, **kwargs):
        raise AssertionError("a .tlsmodel must load without unpickling anything")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    model = load_model(path)
    assert model.format == "tlsmodel" and model.classes == trained_result.spec.classes and model.metadata["input_size"] == 32
    paths = valid_paths(trained_result.spec)
    np.testing.assert_allclose(model.probabilities(paths), in_memory_probs(trained_result.learn, paths), atol=1e-5)


def test_a_tlsmodel_from_anywhere_needs_no_trust(exported, tmp_path, monkeypatch):
    reports, _ = exported
    monkeypatch.setenv("TLSTUDIO_DATA_DIR", str(tmp_path / "another-machine"))
    assert load_model(reports["tlsmodel"].path).classes == ["bag", "sneaker", "trouser"]


def test_pickle_refers_to_nothing_of_tlstudio(exported):
    """Every global the pickle names comes from fastai, torch, fastcore, numpy or the standard library."""
    import pickletools

    reports, _ = exported
    with zipfile.ZipFile(reports["pkl"].path) as zf:
        data = zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    modules, strings = set(), []
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL":
            modules.add(arg.split(" ")[0])
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            modules.add(strings[-2])
    assert modules, "the scan found the pickle's globals"
    assert not [m for m in modules if m.startswith("tlstudio")], sorted(modules)
    assert {m.split(".")[0] for m in modules} >= {"fastai", "torch"}


def test_plain_fastai_loads_the_pkl_where_tlstudio_is_not_importable(exported, trained_result, tmp_path):
    reports, _ = exported
    paths = valid_paths(trained_result.spec)
    script = r"""
import importlib.util, json, sys, warnings
# The venv has tlstudio installed in development mode: remove its finder, so it is not importable at all.
sys.meta_path[:] = [f for f in sys.meta_path if "tlstudio" not in repr(f) and "editable" not in type(f).__module__]
sys.path_hooks[:] = [h for h in sys.path_hooks if "editable" not in repr(h)]
sys.path_importer_cache.clear()
assert importlib.util.find_spec("tlstudio") is None, "tlstudio is importable"
warnings.simplefilter("ignore")
from fastai.learner import load_learner
learn = load_learner(sys.argv[1], cpu=True)
with learn.no_bar():
    probs, _ = learn.get_preds(dl=learn.dls.test_dl(sys.argv[2:]))
print(json.dumps({"vocab": list(learn.dls.vocab), "probs": probs.tolist(),
                  "tlstudio_loaded": [m for m in sys.modules if m.startswith("tlstudio")]}))
"""
    out = subprocess.run([sys.executable, "-I", "-c", script, str(reports["pkl"].path), *map(str, paths)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.splitlines()[-1])
    assert got["tlstudio_loaded"] == [] and got["vocab"] == trained_result.spec.classes
    ours = in_memory_probs(trained_result.learn, paths)
    np.testing.assert_allclose(np.array(got["probs"]), ours, atol=1e-5)


def test_fresh_process_predicts_identically_on_every_format(exported, trained_result, tmp_path):
    """`tlstudio predict` in a new process, from an empty folder where no test code is importable."""
    reports, _ = exported
    paths = valid_paths(trained_result.spec)
    ours = in_memory_probs(trained_result.learn, paths)
    classes = trained_result.spec.classes
    for fmt in ("tlsmodel", "onnx"):
        out = subprocess.run(
            [sys.executable, "-m", "tlstudio", "predict", str(reports[fmt].path), *map(str, paths), "--top-k", "99", "--json"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        theirs = json.loads(out.stdout)
        assert [Path(p["path"]) for p in theirs] == paths
        probs = np.array([[{t["label"]: t["prob"] for t in p["top_k"]}[c] for c in classes] for p in theirs])
        np.testing.assert_allclose(probs, ours, atol=TOLERANCE[fmt])
        np.testing.assert_array_equal(probs.argmax(1), ours.argmax(1))


def test_onnx_takes_any_batch_size(exported, trained_result):
    import onnxruntime as ort

    reports, _ = exported
    session = ort.InferenceSession(str(reports["onnx"].path), providers=["CPUExecutionProvider"])
    for n in (1, 3, 7):
        out = session.run(None, {"input": np.random.default_rng(n).standard_normal((n, 3, 32, 32), dtype=np.float32)})[0]
        assert out.shape == (n, 3)
        np.testing.assert_allclose(out.sum(1), 1.0, atol=1e-5)


@pytest.mark.parametrize("fmt", list(SUFFIXES))
def test_predict_reports_a_corrupt_image_per_item(exported, trained_result, tmp_path, fmt):
    reports, _ = exported
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    good = valid_paths(trained_result.spec)[:2]
    model = load_model(reports[fmt].path)
    assert model.format == fmt and model.classes == trained_result.spec.classes and model.path == reports[fmt].path
    preds = predict(model, [good[0], broken, tmp_path / "missing.jpg", good[1]], top_k=2)
    assert [p.path for p in preds] == [good[0], broken, tmp_path / "missing.jpg", good[1]]
    assert preds[1].label is None and "broken.png" in preds[1].error and "cannot read image" in preds[1].error
    assert preds[2].error.endswith("no such file")
    expected = in_memory_probs(trained_result.learn, good)
    for pred, row in zip((preds[0], preds[3]), expected):
        assert pred.error is None and len(pred.top_k) == 2
        assert pred.label == trained_result.spec.classes[int(row.argmax())]
        assert pred.prob == pytest.approx(float(row.max()), abs=TOLERANCE[fmt])
        assert pred.top_k[0][1] >= pred.top_k[1][1]


def test_the_model_in_memory_predicts_like_its_learner(trained_result):
    model = loaded_from_learner(trained_result.learn, metadata={"note": "in memory"})
    paths = valid_paths(trained_result.spec)[:3]
    assert model.format == "memory" and model.path is None and model.metadata == {"note": "in memory"}
    preds = predict(model, paths, top_k=1)
    ours = in_memory_probs(trained_result.learn, paths)
    assert [p.prob for p in preds] == pytest.approx(ours.max(1).tolist(), abs=1e-6)


def test_exporting_again_replaces_only_with_overwrite(trained_result, tmp_path):
    from tlstudio.core.delivery.target import ExportTargetError

    target = tmp_path / "again.pkl"
    kwargs = dict(spec=trained_result.spec, config=trained_result.config)
    first = export_model(trained_result.learn, target, verify=False, metrics={"accuracy": 0.0}, **kwargs)
    assert not first.verified and first.message == "exported (not verified)"
    with pytest.raises(ExportTargetError, match=r"again\.pkl: already exists"):
        export_model(trained_result.learn, target, verify=False, **kwargs)
    second = export_model(trained_result.learn, target, metrics={"accuracy": 1.0}, overwrite=True, **kwargs)
    assert second.verified, second.message
    assert json.loads(target.with_name("again.pkl.json").read_text())["metrics"] == {"accuracy": 1.0}
    assert load_model(target).metadata["sha256"] == sha256_file(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.pkl", "again.pkl.json"]


def test_not_a_model_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"this is not a pickle at all")
    with pytest.raises(ModelFileError, match=r"junk\.pkl: not a TL Studio or fastai model file"):
        load_model(junk, trust=True)
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "absent.pkl")
    fake = tmp_path / "fake.tlsmodel"
    fake.write_bytes(b"PK not a zip")
    with pytest.raises(ModelFileError, match=r"fake\.tlsmodel: not a readable TL Studio model file"):
        load_model(fake)
    other = tmp_path / "notes.txt"
    other.write_text("x")
    with pytest.raises(ModelFileError, match=r"notes\.txt: not a model file this app knows"):
        load_model(other)


def test_a_changed_model_file_is_refused(exported, tmp_path):
    reports, _ = exported
    for fmt in ("pkl", "onnx"):
        report = reports[fmt]
        copy = tmp_path / report.path.name
        copy.with_name(copy.name + ".json").write_bytes(report.sidecar.read_bytes())
        copy.write_bytes(report.path.read_bytes() + b"\0")
        with pytest.raises(ModelFileError, match="changed after export"):
            load_model(copy)


def test_a_tlsmodel_whose_weights_do_not_fit_is_refused(exported, tmp_path):
    reports, _ = exported
    with zipfile.ZipFile(reports["tlsmodel"].path) as zf:
        meta, weights = json.loads(zf.read("model.json")), zf.read("model.safetensors")
    meta["architecture"] = "resnet18"
    bad = tmp_path / "bad.tlsmodel"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("model.json", json.dumps(meta))
        zf.writestr("model.safetensors", weights)
    with pytest.raises(ModelFileError, match=r"bad\.tlsmodel: its weights do not fit a resnet18 model"):
        load_model(bad)


def test_a_pickle_from_another_machine_loads_only_when_trusted(exported, tmp_path, monkeypatch):
    reports, _ = exported
    monkeypatch.setenv("TLSTUDIO_DATA_DIR", str(tmp_path / "another-machine"))
    foreign = tmp_path / "foreign.pkl"
    foreign.write_bytes(reports["pkl"].path.read_bytes())
    with pytest.raises(UntrustedModelError, match=r"foreign\.pkl: was not exported by TL Studio on this machine"):
        load_model(foreign)
    model = load_model(foreign, trust=True)
    assert model.metadata is None and model.classes == ["bag", "sneaker", "trouser"]


def test_the_app_predicts_exactly_like_its_exported_model(exported, trained_result):
    """The trained learner's valid pipeline carries an identity warp (fastai's
    AffineCoordTfm runs on valid batches too); the app's predictions leave it
    out, as exports do, so the two agree to the last bit in one process."""
    reports, _ = exported
    paths = valid_paths(trained_result.spec)
    ours = loaded_from_learner(trained_result.learn).probabilities(paths)
    assert ours.shape == (len(paths), 3)
    for fmt in ("tlsmodel", "pkl"):
        theirs = load_model(reports[fmt].path).probabilities(paths)
        assert float(np.abs(ours - theirs).max()) < 1e-7, fmt
