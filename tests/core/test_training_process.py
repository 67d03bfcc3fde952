"""Training in a child process: the same run as in-process, cancel, failures, and no orphans."""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import train_targets

from tlstudio.core.errors import UserFacingError
from tlstudio.core.events import BatchEnd, Cancelled, EpochEnd, FitEnd, ListReporter, Message, StageStart
from tlstudio.core.training import process as training_process
from tlstudio.core.training.process import TrainingProcessError, run_in_process

TESTS = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def process_run(tiny_spec, tiny_config):
    reporter = ListReporter()
    result = run_in_process(tiny_spec, tiny_config, reporter)
    return result, reporter


def test_the_child_runs_exactly_the_in_process_run(process_run, trained_run):
    result, reporter = process_run
    assert result.status == "completed" and result.kept_epoch == trained_run.result.kept_epoch
    assert result.message == trained_run.result.message
    ours = [(e.stage, e.epoch, e.global_epoch) for e in result.history]
    assert ours == [(e.stage, e.epoch, e.global_epoch) for e in trained_run.result.history]
    for mine, theirs in zip(result.history, trained_run.result.history):
        assert mine.valid_loss == pytest.approx(theirs.valid_loss, rel=1e-4)
        assert mine.metrics == pytest.approx(theirs.metrics, rel=1e-4)
    # Every event crossed, in order, and the child's own stream is complete.
    kinds = [type(e) for e in reporter.events]
    assert [e.stage for e in reporter.of_type(StageStart)] == [1, 2]
    assert kinds.count(FitEnd) == 1
    n = sum(s.epochs * s.n_batches for s in reporter.of_type(StageStart))
    assert len(reporter.of_type(BatchEnd)) == n
    assert reporter.of_type(EpochEnd) == result.history


def test_the_rebuilt_learner_holds_the_kept_weights(process_run, trained_run, tmp_path):
    result, _ = process_run
    learn = result.learn
    with learn.no_bar(), learn.no_logging():
        valid_loss, accuracy, *_ = learn.validate()
    kept = result.final_metrics
    assert valid_loss == pytest.approx(kept["valid_loss"], rel=1e-4)
    assert accuracy == pytest.approx(kept["accuracy"], abs=1e-6)
    # The same validation images, in the same order, as the run that trained it.
    assert list(learn.dls.valid.items["path"]) == list(trained_run.result.learn.dls.valid.items["path"])
    assert len(learn.dls.valid_ds) == sum(s == "valid" for s in result.spec.splits)
    # Unfrozen to the depth it trained (chosen automatically), and the result says which.
    depth = trained_run.result.config.unfreeze_depth
    assert result.config.unfreeze_depth == depth in (2, 3) and learn.opt.frozen_idx == 5 - depth
    learn.export(tmp_path / "model.pkl")
    assert (tmp_path / "model.pkl").stat().st_size > 0


def test_cancel_in_stage_2_keeps_the_last_completed_epoch(tiny_spec, tiny_config):
    reporter = ListReporter(cancel_when=lambda ev: isinstance(ev, BatchEnd) and ev.stage == 2)
    result = run_in_process(tiny_spec, tiny_config.with_(epochs=3), reporter, target=train_targets.HoldInStage(2))
    assert result.status == "cancelled" and result.kept_epoch == 0
    assert len([b for b in reporter.of_type(BatchEnd) if b.stage == 2]) == 1  # stopped within the held batch
    assert reporter.of_type(FitEnd)[0].status == "cancelled"


def test_a_target_without_a_model_returns_none_once_cancelled(tiny_spec, tiny_config):
    reporter = ListReporter(cancel_when=lambda ev: isinstance(ev, StageStart))
    assert run_in_process(tiny_spec, tiny_config, reporter, target=train_targets.until_cancelled) is None


@pytest.mark.parametrize(
    "target, error, text",
    [
        (train_targets.cancelled_before_a_model, Cancelled, "cancelled before a model"),
        (train_targets.user_error, UserFacingError, "no weights for mobilenet_v2 on this machine"),
        (train_targets.bug, TrainingProcessError, "ValueError: a bug in the engine"),
        (train_targets.dies, TrainingProcessError, "stopped unexpectedly (exit code 3)"),
    ],
)
def test_failures_in_the_child_arrive_as_one_clear_error(tiny_spec, tiny_config, target, error, text):
    with pytest.raises(error, match=None) as info:
        run_in_process(tiny_spec, tiny_config, ListReporter(), target=target)
    assert text in str(info.value)
    if error is UserFacingError:
        assert str(tiny_spec.root) in str(info.value)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes; its parent (killed) can no longer reap it quickly.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_child_exits_when_its_parent_is_killed(tmp_path, tiny_spec):
    pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import train_targets
        from tlstudio.core.config import TrainConfig
        from tlstudio.core.dataset.spec import DatasetSpec
        from tlstudio.core.training.process import run_in_process

        if __name__ == "__main__":
            spec = DatasetSpec(root={str(tiny_spec.root)!r}, layout="folders", items=[], labels=[], splits=[], classes=[])
            run_in_process(spec, TrainConfig(), target=train_targets.WritesPidThenWaits({str(pid_file)!r}))
    """)
    (tmp_path / "parent.py").write_text(script)
    # Its stderr goes to a file: a killed parent's resource tracker reports the queue's semaphores.
    log = (tmp_path / "parent.log").open("w")
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")], stderr=log)
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pid_file.exists(), f"the child never started: {(tmp_path / 'parent.log').read_text()}"
        child = int(pid_file.read_text())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the training process outlived the window that started it"
    finally:
        if parent.poll() is None:
            parent.kill()
        log.close()


def _pid_of_run(tiny_spec, tiny_config) -> int:
    reporter = ListReporter(cancel_when=lambda ev: isinstance(ev, Message))
    assert run_in_process(tiny_spec, tiny_config, reporter, target=train_targets.reports_pid) is None
    return int(reporter.of_type(Message)[-1].text)


def test_a_prestarted_process_runs_the_next_job_then_a_fresh_one_is_started(tiny_spec, tiny_config):
    ready = training_process.prestart()
    assert training_process.prestart() == ready  # one ready process at a time
    assert _pid_of_run(tiny_spec, tiny_config) == ready
    assert multiprocessing.active_children() == []  # each process runs one job and exits
    other = _pid_of_run(tiny_spec, tiny_config)  # none ready: a fresh one
    assert other != ready


def test_a_dead_ready_process_is_replaced(tiny_spec, tiny_config):
    ready = training_process.prestart()
    os.kill(ready, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(c.pid == ready and c.is_alive() for c in multiprocessing.active_children()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _pid_of_run(tiny_spec, tiny_config) != ready


def test_discarding_the_ready_process_ends_it_at_once():
    training_process.prestart()
    t0 = time.monotonic()
    training_process.discard_spare()
    assert time.monotonic() - t0 < 5  # not left to finish importing torch first
    assert multiprocessing.active_children() == []


def test_an_interpreter_that_exits_with_a_ready_process_does_not_wait_for_it(tmp_path):
    script = tmp_path / "exits.py"
    script.write_text(textwrap.dedent("""
        import time
        from tlstudio.core.training import process as training_process

        if __name__ == "__main__":
            print(training_process.prestart(), flush=True)
            time.sleep(3)  # the child is up and importing, or waiting for its job
    """))
    t0 = time.monotonic()
    try:
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as exc:
        child = int(exc.stdout.split()[0])
        os.kill(child, signal.SIGKILL)
        pytest.fail("the interpreter waited for its ready training process at exit")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - t0 < 20
    child = int(done.stdout.split()[0])
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
