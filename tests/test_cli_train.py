"""The CLI end to end, as a user runs it: train and export, predict, evaluate, Ctrl-C, bad input."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from fixtures_engine import best_epoch

EPOCH_ROW = re.compile(r"^\s*(\d+)\s+([12])\s+\d+\.\d+\s+(\d+\.\d+)\s+(\d+\.\d+)")
TINY = ["--size", "32", "--bs", "8", "--device", "cpu"]


def tlstudio(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tlstudio", *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def epoch_rows(stdout: str, scores: bool = False) -> list[tuple]:
    """(epoch, stage) per table row; with `scores`, (epoch, valid loss, accuracy)."""
    rows = [m for m in map(EPOCH_ROW.match, stdout.splitlines()) if m]
    if scores:
        return [(int(m[1]), float(m[3]), float(m[4])) for m in rows]
    return [(int(m[1]), int(m[2])) for m in rows]


@pytest.fixture(scope="module")
def trained(tiny_spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "model.pkl"
    run = tlstudio("train", tiny_spec.root, "--epochs", "1", "--freeze-epochs", "1", *TINY, "--export", out)
    return run, out


def test_train_prints_the_epoch_table_and_exports_a_verified_model(trained):
    run, model = trained
    assert run.returncode == 0, run.stderr[-3000:]
    assert epoch_rows(run.stdout) == [(1, 1), (2, 2)]  # counted from 1, as everywhere
    assert "train_loss" in run.stdout and "valid_loss" in run.stdout and "accuracy" in run.stdout
    kept = best_epoch(epoch_rows(run.stdout, scores=True))  # keep-best is the default
    assert f"Completed 2 epochs; kept epoch {kept} (stage {kept} epoch 1, " in run.stderr
    assert f"Model (epoch {kept}) exported and verified" in run.stderr
    assert "Traceback" not in run.stderr
    meta = json.loads(model.with_name(model.name + ".json").read_text())
    assert meta["classes"] == ["bag", "sneaker", "trouser"] and meta["input_size"] == 32
    assert meta["verification"]["verified"] is True


def test_predict_the_exported_model(trained, tiny_spec, tmp_path, capsys):
    from tlstudio.cli import main

    _, model = trained
    image = tiny_spec.items[tiny_spec.indices("valid")[0]]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    # In-process: tests/core/test_export.py runs `tlstudio predict` in a fresh process.
    assert main(["predict", str(model), str(image), str(broken), "--top-k", "2", "--json"]) == 1  # one unreadable
    good, bad = json.loads(capsys.readouterr().out)
    assert good["error"] is None and good["label"] in tiny_spec.classes
    assert [t["label"] for t in good["top_k"]][0] == good["label"] and len(good["top_k"]) == 2
    assert good["top_k"][0]["prob"] >= good["top_k"][1]["prob"]
    assert bad["label"] is None and "cannot read image" in bad["error"]
    assert main(["predict", str(model), str(image)]) == 0
    assert capsys.readouterr().out.startswith(f"{image}: {good['label']} (")


def test_evaluate_prints_report_and_confusion_matrix(trained, tiny_spec, capsys):
    from tlstudio.cli import main

    _, model = trained
    # In-process (fastai is loaded already); train above and test_export's predict run in fresh processes.
    assert main(["evaluate", str(model), str(tiny_spec.root)]) == 0
    out = capsys.readouterr().out
    assert "on the valid split: 12 images" in out
    assert "macro avg" in out and "weighted avg" in out
    assert re.search(r"actual \\ predicted\s+bag\s+sneaker\s+trouser", out)
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["bag"], ["sneaker"], ["trouser"])]
    confusion = [list(map(int, r[1:])) for r in rows if len(r) == 4 and all(x.isdigit() for x in r[1:])]
    assert len(confusion) == 3 and sum(map(sum, confusion)) == 12
    assert main(["evaluate", str(model), str(tiny_spec.root), "--split", "test"]) == 2
    assert "no 'test' split" in capsys.readouterr().err


def test_ctrl_c_keeps_the_best_completed_epoch_and_still_exports(tiny_spec, tmp_path):
    model = tmp_path / "cancelled.pkl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tlstudio", "train", str(tiny_spec.root), "--epochs", "50", "--freeze-epochs", "1",
         *TINY, "--export", str(model)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 240
        for line in proc.stdout:  # the first epoch row, then Ctrl-C
            lines.append(line)
            if EPOCH_ROW.match(line) or time.monotonic() > deadline:
                break
        assert EPOCH_ROW.match(lines[-1]), "".join(lines)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    assert "Cancelling training" in err and "Cancelled in stage" in err
    rows = epoch_rows("".join(lines) + out)
    assert 1 <= len(rows) < 51
    kept = best_epoch(epoch_rows("".join(lines) + out, scores=True))  # named as the table printed it
    assert f"kept epoch {kept} (" in err
    assert f"Model (epoch {kept}) exported and verified" in err
    assert model.is_file() and json.loads(model.with_name(model.name + ".json").read_text())["verification"]["verified"]


def test_train_runs_the_windows_train_job_and_holds_its_model(tiny_spec, tmp_path, capsys, monkeypatch):
    """`tlstudio train` is the window's TrainJob run here: its model is held as the engine holds
    the window's, into a project it says where the run was saved, and `--export` exports the
    held model with the window's ExportJob."""
    from tlstudio.cli import main
    from tlstudio.core.delivery.export import load_model
    from tlstudio.core.jobs import delivery, held

    exported = []
    real = delivery.ExportJob.__call__
    monkeypatch.setattr(delivery.ExportJob, "__call__", lambda job, r: exported.append(job.model_id) or real(job, r))
    held.release()
    project, model = tmp_path / "cli.tlsproject", tmp_path / "cli.tlsmodel"
    args = ["train", str(tiny_spec.root), *TINY, "--freeze-epochs", "1", "--epochs", "0", "--project", str(project),
            "--export", str(model)]
    assert main(args) == 0
    err = capsys.readouterr().err
    [(model_id, result)] = held.items()
    assert result.spec.root == tiny_spec.root and result.kept_epoch == 0 and result.history[0].stage == 1
    assert exported == [model_id]
    assert f"Run 001 saved in {project / 'runs' / '001'}" in err and "Model (epoch 1) exported and verified" in err
    assert load_model(model).classes == tiny_spec.classes


def test_user_errors_are_one_line_without_traceback(tmp_path):
    run = tlstudio("train", tmp_path / "no-such-folder")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].startswith("tlstudio train: error:") and "no-such-folder" in run.stderr
    assert "Traceback" not in run.stderr
    run = tlstudio("predict", tmp_path / "missing.pkl", tmp_path / "x.png")
    assert run.returncode == 2 and "missing.pkl: no such model file" in run.stderr and "Traceback" not in run.stderr
    run = tlstudio("train", tmp_path, "--unfreeze", "zero")
    assert run.returncode == 2 and "--unfreeze" in run.stderr


def test_lr_find_prints_four_suggestions_and_plots(tiny_spec, tmp_path, capsys):
    from tlstudio.cli import main

    plot = tmp_path / "curve.png"
    args = ["lr-find", str(tiny_spec.root), *TINY, "--num-it", "24", "--plot", str(plot)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "stage 1: head only" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert set(rows) == {"valley", "slide", "minimum", "steep"}
    assert all(float(rows[name][1]) > 0 for name in rows if rows[name][1] != "-")
    assert plot.is_file() and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lr_find_stage_2_probes_the_depth_asked_for(tiny_spec, capsys):
    """`lr-find --unfreeze N` is the window's LrFindJob for stage 2 at that depth, run here."""
    from tlstudio.cli import main

    assert main(["lr-find", str(tiny_spec.root), *TINY, "--num-it", "12", "--unfreeze", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("LR finder (stage 2: last 2 layer groups unfrozen): ")
    assert main(["lr-find", str(tiny_spec.root), *TINY, "--num-it", "12", "--unfreeze", "all"]) == 0
    assert capsys.readouterr().out.startswith("LR finder (stage 2: all layer groups unfrozen): ")


def test_first_ctrl_c_sets_the_cancel_flag_second_aborts(capsys):
    from tlstudio.commands.console import ConsoleReporter, cancel_on_sigint

    reporter = ConsoleReporter(live=False)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), cancel_on_sigint(reporter):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # Python runs the handler between bytecodes
        assert reporter.cancel_requested()
        assert "Ctrl-C again to abort" in capsys.readouterr().err
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize(
    "flags, head, top",
    [([], 2e-3, 1e-3), (["--lr", "1e-2"], 1e-2, 5e-3)],
)
def test_lr_means_what_fine_tune_means_and_the_defaults_are_fine_tunes(flags, head, top):
    """Stage 1 at LR, the unfrozen network up to LR / 2, as `fine_tune(base_lr=LR)`;
    without --lr, fine_tune's own default. Unfreezing at the head's full rate
    made the first unfrozen epoch collapse on the demo set."""
    import inspect

    import fastai.callback.schedule  # noqa: F401 - patches fine_tune onto Learner
    from fastai.learner import Learner

    from tlstudio.cli import build_parser
    from tlstudio.commands.train import config_from_args

    args = build_parser().parse_args(["train", "somewhere", *flags])
    config = config_from_args(args)
    assert (config.stage1_lr, config.base_lr) == pytest.approx((head, top))
    if not flags:
        assert inspect.signature(Learner.fine_tune).parameters["base_lr"].default == config.stage1_lr


def test_unfreeze_auto_is_the_default_and_a_number_is_kept(tiny_spec):
    from types import SimpleNamespace

    from tlstudio.cli import build_parser
    from tlstudio.commands.lr_find import _depth
    from tlstudio.commands.train import config_from_args
    from tlstudio.core.training.advice import recommend_depth

    parser = build_parser()
    auto = config_from_args(parser.parse_args(["train", "data"]))
    assert auto.auto_depth is True and auto.unfreeze_depth is None
    fixed = config_from_args(parser.parse_args(["train", "data", "--unfreeze", "3"]))
    assert (fixed.auto_depth, fixed.unfreeze_depth) == (False, 3)
    every = config_from_args(parser.parse_args(["train", "data", "--unfreeze", "all"]))
    assert (every.auto_depth, every.unfreeze_depth) == (False, None)
    # lr-find --unfreeze auto probes the depth recommended before training.
    notes = []
    args = SimpleNamespace(unfreeze="auto", arch="mobilenet_v2", device="cpu")
    advice = recommend_depth(tiny_spec, 5)
    assert _depth(args, tiny_spec, SimpleNamespace(note=notes.append)) == advice.value == 2
    assert notes == [f"Unfreeze depth: {advice.reason}"]
