"""`train --export` checks its target before training and never loses the run; `predict --csv`."""
from __future__ import annotations

import csv
import time

from test_cli_train import TINY, epoch_rows, tlstudio


def test_an_existing_target_is_refused_before_training(tiny_spec, tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"the user's older model")
    started = time.monotonic()
    run = tlstudio("train", tiny_spec.root, "--epochs", "1", "--freeze-epochs", "1", *TINY, "--export", target)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "model.onnx: already exists (choose to replace it, or pass --force)" in run.stderr
    assert epoch_rows(run.stdout) == [] and "Traceback" not in run.stderr, "nothing was trained"
    assert target.read_bytes() == b"the user's older model"
    assert time.monotonic() - started < 120


def test_an_unwritable_target_is_refused_before_training_with_another_path(tiny_spec, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = tlstudio("train", tiny_spec.root, *TINY, "--export", blocker / "model.tlsmodel")
    assert run.returncode == 2 and epoch_rows(run.stdout) == []
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("tlstudio train: error:") and "a-file is not a folder" in line
    assert "you could export to" in line and "models" in line and "model.tlsmodel instead" in line


def test_a_failed_export_keeps_the_model_in_the_data_folder(trained_result, tmp_path, monkeypatch):
    from tlstudio.commands.console import ConsoleReporter
    from tlstudio.commands.export import export_trained
    from tlstudio.core.delivery.export import load_model
    from tlstudio.core.delivery.target import models_folder
    from tlstudio.core.jobs import held
    from tlstudio.core.jobs.training import trained_model

    monkeypatch.setenv("TLSTUDIO_DATA_DIR", str(tmp_path / "data"))
    trained = trained_model(trained_result, held.hold(trained_result))  # as `train` holds its run
    notes = []
    reporter = ConsoleReporter(live=False)
    monkeypatch.setattr(reporter, "note", notes.append)
    blocker = tmp_path / "gone"
    blocker.write_text("")  # the folder became a file while training ran
    assert export_trained(trained, blocker / "model.onnx", force=False, reporter=reporter) == 1
    kept = list(models_folder().glob("*.tlsmodel"))
    assert len(kept) == 1 and kept[0].name.startswith(f"{trained_result.spec.root.stem}-mobilenet_v2-")
    assert any("Export to" in n and "failed" in n and "gone is not a folder" in n for n in notes)
    assert any(f"saved instead as {kept[0]}" in n and "exported and verified" in n for n in notes)
    assert load_model(kept[0]).classes == trained_result.spec.classes


def test_predict_writes_csv(trained_result, tmp_path, capsys):
    from tlstudio.cli import main
    from tlstudio.core.delivery.export import export_model

    model = export_model(trained_result.learn, tmp_path / "m.tlsmodel", spec=trained_result.spec,
                         config=trained_result.config, verify=False).path
    spec = trained_result.spec
    images = [spec.items[i] for i in spec.indices("valid")[:2]]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"nope")
    out = tmp_path / "preds.csv"
    assert main(["predict", str(model), *map(str, images), str(broken), "--top-k", "2", "--csv", str(out)]) == 1
    printed = capsys.readouterr().out.splitlines()
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["path"] for r in rows] == [*map(str, images), str(broken)]
    assert list(rows[0]) == ["path", "label", "prob", "label_1", "prob_1", "label_2", "prob_2", "error"]
    for row, line in zip(rows[:2], printed):
        assert row["label"] in spec.classes and row["label_1"] == row["label"] and not row["error"]
        assert float(row["prob_1"]) >= float(row["prob_2"]) and line.startswith(f"{row['path']}: {row['label']} (")
    assert rows[2]["label"] == "" and "cannot read image" in rows[2]["error"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.png", "m.tlsmodel", "m.tlsmodel.json", "preds.csv"]


def test_export_refuses_an_onnx_source(trained_result, tmp_path, capsys):
    from tlstudio.cli import main
    from tlstudio.core.delivery.export import export_model

    onnx = export_model(trained_result.learn, tmp_path / "m.onnx", spec=trained_result.spec,
                        config=trained_result.config, verify=False).path
    assert main(["export", str(onnx), str(tmp_path / "m.tlsmodel")]) == 2
    assert "convert from a .tlsmodel or .pkl" in capsys.readouterr().err
    assert not (tmp_path / "m.tlsmodel").exists()


def test_evaluate_a_tlsmodel(trained_result, tmp_path, capsys):
    from tlstudio.cli import main
    from tlstudio.core.delivery.export import export_model

    model = export_model(trained_result.learn, tmp_path / "m.tlsmodel", spec=trained_result.spec,
                         config=trained_result.config, verify=False).path
    assert main(["evaluate", str(model), str(trained_result.spec.root)]) == 0
    out = capsys.readouterr().out
    assert "on the valid split: 12 images" in out and "macro avg" in out
