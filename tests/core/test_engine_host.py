"""The engine process: the same run as in-process, one host for job after job, cancel,
failures in one line, a crashed host replaced, and no orphans."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import train_targets

from tlstudio.core.config import TrainConfig
from tlstudio.core.errors import UserFacingError
from tlstudio.core.events import BatchEnd, Cancelled, EpochEnd, FitEnd, ListReporter, Message, StageStart
from tlstudio.core.jobs.held import ModelGone
from tlstudio.core.jobs.host import EngineCrashed, EngineError, EngineHost, run_here
from tlstudio.core.jobs.training import ModelDigestJob, TrainedModel, TrainJob

TESTS = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def host():
    engine = EngineHost(shared=True)  # one for the module's tests, as the window keeps one
    yield engine
    engine.stop()


@pytest.fixture(scope="module")
def hosted_run(host, tiny_spec, tiny_config):
    reporter = ListReporter()
    result = host.run(TrainJob(tiny_spec, tiny_config), reporter)
    return result, reporter


def test_the_host_runs_exactly_the_in_process_run(hosted_run, trained_run):
    result, reporter = hosted_run
    assert isinstance(result, TrainedModel)
    assert result.status == "completed" and result.kept_epoch == trained_run.result.kept_epoch
    assert result.message == trained_run.result.message
    ours = [(e.stage, e.epoch, e.global_epoch) for e in result.history]
    assert ours == [(e.stage, e.epoch, e.global_epoch) for e in trained_run.result.history]
    for mine, theirs in zip(result.history, trained_run.result.history):
        assert mine.valid_loss == pytest.approx(theirs.valid_loss, rel=1e-4)
        assert mine.metrics == pytest.approx(theirs.metrics, rel=1e-4)
    # Every event crossed, in order, and the engine's own stream is complete.
    kinds = [type(e) for e in reporter.events]
    assert [e.stage for e in reporter.of_type(StageStart)] == [1, 2]
    assert kinds.count(FitEnd) == 1
    n = sum(s.epochs * s.n_batches for s in reporter.of_type(StageStart))
    assert len(reporter.of_type(BatchEnd)) == n
    assert reporter.of_type(EpochEnd) == result.history


def test_the_held_learner_holds_the_kept_weights(host, hosted_run, trained_run, tmp_path):
    result, _ = hosted_run
    facts = host.run(train_targets.ValidateHeld(result.model.id, str(tmp_path / "model.pkl")))
    kept = result.final_metrics
    assert facts["valid_loss"] == pytest.approx(kept["valid_loss"], rel=1e-4)
    assert facts["accuracy"] == pytest.approx(kept["accuracy"], abs=1e-6)
    # The same validation images, in the same order, as the run that trained in this process.
    assert facts["valid_paths"] == [str(p) for p in trained_run.result.learn.dls.valid.items["path"]]
    assert facts["n_valid"] == sum(s == "valid" for s in result.spec.splits)
    # Unfrozen to the depth it trained (chosen automatically), and the result says which.
    depth = trained_run.result.config.unfreeze_depth
    assert result.config.unfreeze_depth == depth in (2, 3) and facts["frozen_idx"] == 5 - depth
    assert result.model.frozen_idx == 5 - depth and result.model.classes == tuple(result.spec.classes)
    assert (tmp_path / "model.pkl").stat().st_size > 0


def test_jobs_run_one_after_another_in_one_process_that_keeps_the_model(host, hosted_run):
    result, _ = hosted_run
    pids = {_pid_of_run(host), _pid_of_run(host)}
    assert pids == {host.pid} and host.pid != os.getpid()
    digest, frozen = host.run(ModelDigestJob(result.model.id))
    assert len(digest) == 64 and frozen == result.model.frozen_idx


def test_waiting_for_a_busy_engine_can_be_cancelled(host):
    """A second caller (another page) waits for the running job, and can give up while it waits."""
    import threading

    running = ListReporter(cancel_when=lambda ev: False)
    first = threading.Thread(target=lambda: host.run(TrainJob(None, TrainConfig(), train_targets.reports_pid), running))
    first.start()
    try:
        deadline = time.monotonic() + 60
        while not running.of_type(Message) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert running.of_type(Message), "the first job never started"
        waiting = ListReporter()
        waiting.cancel()
        t0 = time.monotonic()
        with pytest.raises(Cancelled, match="waiting for the engine"):
            host.run(ModelDigestJob("none"), waiting)
        assert time.monotonic() - t0 < 2  # it did not wait for the running job
    finally:
        running.cancel()
        first.join(30)
    assert _pid_of_run(host) == host.pid  # released again


def test_cancel_in_stage_2_keeps_the_last_completed_epoch(host, tiny_spec, tiny_config):
    reporter = ListReporter(cancel_when=lambda ev: isinstance(ev, BatchEnd) and ev.stage == 2)
    result = host.run(TrainJob(tiny_spec, tiny_config.with_(epochs=3), train_targets.HoldInStage(2)), reporter)
    assert result.status == "cancelled" and result.kept_epoch == 0
    assert len([b for b in reporter.of_type(BatchEnd) if b.stage == 2]) == 1  # stopped within the held batch
    assert reporter.of_type(FitEnd)[0].status == "cancelled"


def test_a_target_without_a_model_returns_none_once_cancelled(host, tiny_spec, tiny_config):
    reporter = ListReporter(cancel_when=lambda ev: isinstance(ev, StageStart))
    assert host.run(TrainJob(tiny_spec, tiny_config, train_targets.until_cancelled), reporter) is None


@pytest.mark.parametrize(
    "target, error, text",
    [
        (train_targets.cancelled_before_a_model, Cancelled, "cancelled"),
        (train_targets.user_error, UserFacingError, "no weights for mobilenet_v2 on this machine"),
        (train_targets.bug, EngineError, "ValueError: a bug in the engine"),
        (train_targets.dies, EngineCrashed, "stopped unexpectedly (exit code 3)"),
    ],
)
def test_failures_in_the_engine_arrive_as_one_clear_error(tiny_spec, tiny_config, target, error, text):
    engine = EngineHost()
    try:
        with pytest.raises(error) as info:
            engine.run(TrainJob(tiny_spec, tiny_config, target), ListReporter())
        assert text in str(info.value) and "\n" not in str(info.value)
        if error is UserFacingError:
            assert str(tiny_spec.root) in str(info.value)
    finally:
        engine.stop()


def test_a_crashed_host_is_replaced_and_its_models_are_gone(tiny_spec, tiny_config):
    engine = EngineHost()
    try:
        first = engine.start()
        held = engine.run(train_targets.HoldsSomething())
        with pytest.raises(EngineCrashed, match="stopped unexpectedly"):
            engine.run(TrainJob(tiny_spec, tiny_config, train_targets.dies))
        second = _pid_of_run(engine)
        assert second != first and engine.generation == 2
        with pytest.raises(ModelGone, match="no longer in the engine"):
            engine.run(ModelDigestJob(held))
    finally:
        engine.stop()


def test_the_cli_runs_the_same_job_in_its_own_process(tiny_spec, tiny_config):
    reporter = ListReporter(cancel_when=lambda ev: isinstance(ev, Message))
    assert run_here(TrainJob(tiny_spec, tiny_config, train_targets.reports_pid), reporter) is None
    assert int(reporter.of_type(Message)[-1].text) == os.getpid()


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
def test_the_engine_exits_when_its_window_is_killed(tmp_path, tiny_spec):
    pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import train_targets
        from tlstudio.core.config import TrainConfig
        from tlstudio.core.dataset.spec import DatasetSpec
        from tlstudio.core.jobs.host import EngineHost
        from tlstudio.core.jobs.training import TrainJob

        if __name__ == "__main__":
            spec = DatasetSpec(root={str(tiny_spec.root)!r}, layout="folders", items=[], labels=[], splits=[], classes=[])
            EngineHost().run(TrainJob(spec, TrainConfig(), train_targets.WritesPidThenWaits({str(pid_file)!r})))
    """)
    (tmp_path / "parent.py").write_text(script)
    # Its stderr goes to a file: a killed parent's resource tracker reports the queue's semaphores.
    log = (tmp_path / "parent.log").open("w")
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")], stderr=log)
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pid_file.exists(), f"the engine never started: {(tmp_path / 'parent.log').read_text()}"
        child = int(pid_file.read_text())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the engine process outlived the window that started it"
    finally:
        if parent.poll() is None:
            parent.kill()
        log.close()


def _pid_of_run(engine: EngineHost) -> int:
    reporter = ListReporter(cancel_when=lambda ev: isinstance(ev, Message))
    spec_free = TrainJob(None, TrainConfig(), train_targets.reports_pid)
    assert engine.run(spec_free, reporter) is None
    return int(reporter.of_type(Message)[-1].text)


def test_a_started_host_is_the_one_that_runs_the_next_job():
    engine = EngineHost()
    try:
        ready = engine.start()
        assert engine.start() == ready  # one process at a time
        assert _pid_of_run(engine) == ready
    finally:
        engine.stop()


def test_stopping_the_host_ends_it_at_once():
    engine = EngineHost()
    pid = engine.start()
    t0 = time.monotonic()
    engine.stop()
    assert time.monotonic() - t0 < 5  # not left to finish importing torch first
    assert not _alive(pid)


def test_an_interpreter_that_exits_with_a_host_running_does_not_wait_for_it(tmp_path):
    script = tmp_path / "exits.py"
    script.write_text(textwrap.dedent("""
        import time
        from tlstudio.core.jobs.host import EngineHost

        if __name__ == "__main__":
            host = EngineHost()
            print(host.start(), flush=True)
            time.sleep(3)  # the engine is up and importing, or waiting for its job
    """))
    t0 = time.monotonic()
    try:
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as exc:
        child = int(exc.stdout.split()[0])
        os.kill(child, signal.SIGKILL)
        pytest.fail("the interpreter waited for its engine process at exit")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - t0 < 20
    child = int(done.stdout.split()[0])
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
