"""SIGKILL a real `tlstudio train --project` at random points of both stages; every time the project opens and resumes.

One run is killed again and again: first the `train` process, then each
`resume` that continues it, each at a random point (after a randomly chosen
epoch's row appears, plus a random delay, so some kills land while a
checkpoint is being written). After every kill the project must open, the
run must read as interrupted and its checkpoint, if it has one, must load
with pickle unavailable. The last resume runs to the end, and the run must
finish where the same run uninterrupted finishes. The kill points differ
from run to run; `TLSTUDIO_KILL_SEED=N` replays those of a run whose seed
a failure (or `pytest -s`) printed.
"""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from core.no_pickle import no_pickle

FREEZE_EPOCHS, EPOCHS = 3, 3
TRAIN = ["--size", "32", "--bs", "8", "--device", "cpu", "--freeze-epochs", str(FREEZE_EPOCHS), "--epochs",
         str(EPOCHS), "--unfreeze", "2", "--no-keep-best"]
KILLS_STAGE1, KILLS_STAGE2 = 4, 6
EPOCH_ROW = re.compile(r"^\s*(\d+)\s+([12])\s+\d+\.\d+\s+\d+\.\d+\s+(\d+\.\d+)")
REPO = Path(__file__).resolve().parent.parent


def _start(*args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "tlstudio", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)


def _kill_after(proc: subprocess.Popen, row: int, delay: float, seen: list[str], timeout: float = 400) -> bool:
    """SIGKILL `proc` `delay` seconds after it prints the epoch table's row
    `row` (1-based; 0: its first "Stage" line). False when it finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            proc.wait(30)
            return False
        seen.append(line)
        match = EPOCH_ROW.match(line)
        if (match and int(match[1]) >= row) or (row == 0 and line.startswith("Stage ")):
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            return True
    proc.kill()
    raise AssertionError("no progress in time:\n" + "".join(seen[-40:]))


def _open_after_kill(root: Path):
    from tlstudio.core.project.checkpoint import read_checkpoint
    from tlstudio.core.project.project_file import open_project
    from tlstudio.core.project.run_summaries import summarize_runs
    from tlstudio.core.project.runs import list_runs

    with no_pickle():
        project = open_project(root)
        (run,) = list_runs(project.root)
        summarize_runs(project.root)
        # A kill after the last epoch's row may land once the run has recorded itself complete
        # (its model and evaluation written), while the process is still exiting.
        if run.state == "completed" and not run.live:
            return "completed"
        assert run.state == "interrupted" and not run.live
        checkpoint = read_checkpoint(run.folder)
    if checkpoint is not None:
        epochs = [e["global_epoch"] for e in checkpoint.run["history"]]
        assert epochs == list(range(len(epochs)))
        assert checkpoint.model_state() and checkpoint.optimizer["state"]
    return checkpoint


def _final_rows(root: Path) -> list[tuple[int, float]]:
    from tlstudio.core.project.run_summaries import run_history
    from tlstudio.core.project.runs import list_runs

    (run,) = list_runs(root)
    assert run.state == "completed", run.message
    return [(e.global_epoch, e.metrics["accuracy"]) for e in run_history(run).epochs]


@pytest.mark.timeout(900)
def test_sigkill_at_random_points_of_both_stages_and_resume_to_the_uninterrupted_result(tiny_spec, tmp_path):
    seed = int(os.environ.get("TLSTUDIO_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    total = FREEZE_EPOCHS + EPOCHS
    # After which row of the epoch table to kill (0: as the stage starts),
    # plus a delay: short in stage 1, whose epochs take a fraction of a second.
    plan = sorted([(rng.randrange(0, FREEZE_EPOCHS), rng.uniform(0.0, 0.1)) for _ in range(KILLS_STAGE1)]
                  + [(rng.randrange(FREEZE_EPOCHS, total), rng.uniform(0.0, 0.5)) for _ in range(KILLS_STAGE2)])
    reference = subprocess.run([sys.executable, "-m", "tlstudio", "train", tiny_spec.root, *TRAIN, "--project",
                                tmp_path / "reference"], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert reference.returncode == 0, reference.stderr[-3000:]
    expected = _final_rows(tmp_path / "reference.tlsproject")
    assert len(expected) == total

    root = tmp_path / "killed.tlsproject"
    killed_in, log, done = [], [], 0
    finished = False
    for i, (row, delay) in enumerate(plan):
        seen: list[str] = []
        proc = _start("train", tiny_spec.root, *TRAIN, "--project", root) if i == 0 else _start("resume", root)
        # A row this run has passed already: kill once the resumed stage starts.
        if not _kill_after(proc, row if row > done else 0, delay, seen):
            assert proc.returncode == 0, "".join(seen[-40:])
            log.append(f"kill {i + 1}: the run finished first")
            finished = True
            break
        assert (root / "project.json").is_file(), "".join(seen)
        checkpoint = _open_after_kill(root)
        if checkpoint == "completed":
            log.append(f"kill {i + 1}: after row {row} + {delay:.2f} s: the run had completed")
            finished = True
            break
        done = 0 if checkpoint is None else checkpoint.global_epoch + 1
        stage = 1 if checkpoint is None or (checkpoint.stage == 1 and not checkpoint.stage_done) else 2
        killed_in.append(stage)
        log.append(f"kill {i + 1}: after row {row} + {delay:.2f} s: in stage {stage}, {done} epochs checkpointed")
    context = f"seed {seed}:\n" + "\n".join(log)
    print(context)  # where the kills landed, for `pytest -s`
    assert len(killed_in) >= len(plan) - 2, context
    assert {1, 2} <= set(killed_in), context

    if not finished:
        last = subprocess.run([sys.executable, "-m", "tlstudio", "resume", root], capture_output=True, text=True,
                              timeout=600, cwd=REPO)
        assert last.returncode == 0, context + "\n" + last.stderr[-3000:]
    got = _final_rows(root)
    assert [e for e, _ in got] == list(range(total)), context
    assert abs(got[-1][1] - expected[-1][1]) <= 0.01, f"{context}\n{got}\n{expected}"
    assert all(abs(a - b) <= 0.01 for (_, a), (_, b) in zip(got, expected)), f"{context}\n{got}\n{expected}"
    from tlstudio.core.delivery.export import load_model

    run_folder = root / "runs" / "001"
    assert load_model(run_folder / "model.tlsmodel").classes == ["bag", "sneaker", "trouser"]
    assert (run_folder / "evaluation.json").is_file() and not (run_folder / "checkpoint").exists()
