"""predict keeps the scan's pixel limit and decodes each image once; a broken one is an error on its own line."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import ImageFile
from source_digest import damaged_data_png, digest, huge_jpeg

from tlstudio.core.dataset.image_check import DEFAULT_MAX_PIXELS
from tlstudio.core.delivery.export import export_model, load_model, predict


@pytest.fixture(scope="module")
def model_file(trained_result, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.pkl"
    r = trained_result
    export_model(r.learn, path, spec=r.spec, config=r.config, metrics=r.final_metrics)
    return path


@pytest.fixture
def images(tmp_path, trained_result):
    folder = tmp_path / "photos"
    folder.mkdir()
    good = [Path(p) for p, s in zip(trained_result.spec.items, trained_result.spec.splits) if s == "valid"][:2]
    copies = []
    for n, src in enumerate(good):
        copies.append(folder / f"good{n}.png")
        copies[-1].write_bytes(src.read_bytes())
    return folder, [copies[0], huge_jpeg(folder / "big.jpg"), damaged_data_png(folder / "damaged.png"), copies[1]]


def test_predict_refuses_what_scan_refuses_and_decodes_each_image_once(model_file, images, monkeypatch):
    folder, paths = images
    before = digest(folder)
    loads = Counter()
    real_load = ImageFile.ImageFile.load

    def counting_load(self):
        if self.tile:  # pixel data still to decode; once loaded, load() returns at once
            loads[Path(self.filename).name] += 1
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    preds = predict(load_model(model_file), paths, top_k=2)
    assert [p.path for p in preds] == paths
    assert preds[0].error is None and preds[3].error is None and preds[0].label and preds[3].label
    assert preds[1].label is None and preds[1].error == (
        f"{paths[1]}: cannot read image ('big.jpg' is 12000 x 12000 pixels, more than the limit of "
        f"{DEFAULT_MAX_PIXELS:,} (a possible decompression bomb))")
    assert preds[2].label is None and preds[2].error == (
        f"{paths[2]}: cannot read image ('damaged.png' cannot be decoded "
        "(OSError: broken data stream when reading image file))")
    assert loads == {"good0.png": 1, "good1.png": 1, "damaged.png": 1}  # big.jpg: never decoded
    assert digest(folder) == before


def test_predict_cli_names_each_bad_image_and_exits_1(model_file, images, tmp_path):
    folder, paths = images
    before = digest(folder)
    out = subprocess.run([sys.executable, "-m", "tlstudio", "predict", str(model_file), *map(str, paths)],
                         capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert out.returncode == 1, out.stderr[-2000:]
    errors = [line for line in out.stderr.splitlines() if ": error: " in line]
    assert errors == [
        f"{paths[1]}: error: cannot read image ('big.jpg' is 12000 x 12000 pixels, more than the limit of "
        f"{DEFAULT_MAX_PIXELS:,} (a possible decompression bomb))",
        f"{paths[2]}: error: cannot read image ('damaged.png' cannot be decoded "
        "(OSError: broken data stream when reading image file))",
    ]
    assert "Traceback" not in out.stderr
    assert [line.split(": ")[0] for line in out.stdout.splitlines()] == [str(paths[0]), str(paths[3])]
    assert digest(folder) == before


def test_evaluation_leaves_out_an_image_that_no_longer_decodes(model_file, trained_result, tmp_path, monkeypatch):
    """A fresh process (an exported model, nothing known about the files) and
    the window's process (told by the training process what it dropped)."""
    from tlstudio.core.dataset import loaders as data
    from tlstudio.core.dataset.scan import scan
    from tlstudio.core.delivery.interpret import interpret

    root = tmp_path / "photos"
    for item, label, split in zip(trained_result.spec.items, trained_result.spec.labels, trained_result.spec.splits):
        dest = root / split / label / Path(item).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(Path(item).read_bytes())
    spec = scan(root)
    damaged = damaged_data_png(next(p for p, s in zip(spec.items, spec.splits) if s == "valid"))
    before = digest(root)
    monkeypatch.setattr(data, "_broken", {})
    result = interpret(load_model(model_file).learn, spec, "valid")
    n_valid = spec.split_counts()["valid"]
    assert len(result.paths) == n_valid - 1 and damaged not in result.paths
    assert int(result.confusion.sum()) == n_valid - 1
    monkeypatch.setattr(data, "_broken", {})
    data.remember_undecodable([str(damaged)])
    assert data.items_frame(spec, ("valid",))["path"].tolist() == [
        str(p) for p, s in zip(spec.items, spec.splits) if s == "valid" and p != damaged]
    assert digest(root) == before
