"""Train page: real tiny training runs started, watched and cancelled through the page."""
from __future__ import annotations

import multiprocessing
import time

import pytest
import train_targets
from fixtures_engine import best_epoch
from PySide6.QtCore import Qt

from tlstudio.core.events import BatchEnd, DeviceSummary, EpochEnd, Message, StageStart
from tlstudio.core.jobs.delivery import ExportJob
from tlstudio.qt import engine
from tlstudio.qt.app_state import AppState
from tlstudio.qt.pages.train_page import LR_PLOT_MIN_HEIGHT, PLOT_TICKS, REDRAW_MS, TrainPage, train_task

RUN_TIMEOUT_MS = 180_000  # generous: a loaded 2-core machine can be 10x slower


class Recorder:
    """Wraps the page's reporter in its worker thread and records every event
    that arrives from the training process."""

    def __init__(self, reporter):
        self.reporter = reporter
        self.events: list = []

    def emit(self, ev):
        self.events.append(ev)
        self.reporter.emit(ev)

    def cancel_requested(self):
        return self.reporter.cancel_requested()

    def batches(self, stage=None):
        return [e for e in self.events if isinstance(e, BatchEnd) and stage in (None, e.stage)]


@pytest.fixture
def train_page(qtbot, tiny_spec, tiny_config):
    state = AppState()
    state.set_dataset(tiny_spec)
    state.update_train_config(**{f: getattr(tiny_config, f) for f in ("augment", "bs", "freeze_epochs", "epochs", "device", "seed")})
    page = TrainPage(state)
    page.resize(1150, 820)
    qtbot.addWidget(page)
    page.show()
    page.gates = []

    def gated(target=None):
        """Record what arrives; `target` replaces `training.run` in the child."""

        def task(spec, config, reporter):
            gate = Recorder(reporter)
            page.gates.append(gate)
            return train_task(spec, config, gate, target=target)

        page.task_fn = task

    page.use_gate = gated
    gated()
    yield page
    page.shutdown()


def wait_until_finished(qtbot, page):
    qtbot.waitUntil(lambda: not page.is_training() and page.start_button.isEnabled(), timeout=RUN_TIMEOUT_MS)


def test_a_run_draws_one_point_per_batch_and_epoch(qtbot, train_page, artifacts_dir, tmp_path):
    page, state = train_page, train_page.state
    t0 = time.monotonic()
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert page.is_training() and not page.start_button.isEnabled() and page.cancel_button.isEnabled()
    assert not page.summary.keep_best.isEnabled()  # the run's options are fixed once it runs
    qtbot.waitUntil(lambda: page.epochs_seen >= 1 and page.curves.point_counts()["valid_loss"] >= 1, timeout=RUN_TIMEOUT_MS)
    page.grab().save(str(artifacts_dir / "train_page_mid_training.png"))
    wait_until_finished(qtbot, page)
    elapsed = time.monotonic() - t0

    events = page.gates[0].events
    batches = [e for e in events if isinstance(e, BatchEnd)]
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.stage for e in events if isinstance(e, StageStart)] == [1, 2]
    assert len(epochs) == 2 and len(batches) > 0
    # Where and how the run computed, sent as plain data from the engine process and shown.
    (device,) = [e for e in events if isinstance(e, DeviceSummary)]
    assert device.device == "cpu" and device.images.startswith("decoded once (")
    assert page.device_label.text() == device.text()
    counts = page.curves.point_counts()
    assert counts["train_loss"] == counts["lr"] == len(batches) == page.batches_seen
    assert counts["valid_loss"] == len(epochs)
    for metric in ("accuracy", "error_rate", "f1_macro"):
        assert counts[metric] == len(epochs)
    assert list(page.curves.smooth_losses) == [b.smooth_loss for b in batches]
    # The stage marker sits between the last stage-1 batch and the first stage-2 batch.
    last1 = max(b.iteration for b in batches if b.stage == 1)
    first2 = min(b.iteration for b in batches if b.stage == 2)
    assert page.curves.stage_lines[0].isVisible()
    assert last1 < page.curves.stage_lines[0].value() < first2
    assert page.curves.metric_stage_line.value() == pytest.approx(1.5)

    assert page.table.rowCount() == 2
    assert page.table.column_names() == ["stage", "epoch", "train_loss", "valid_loss", "accuracy", "error_rate", "f1_macro", "time"]
    assert page.table.row_values(1)["valid_loss"] == f"{epochs[1].valid_loss:.6f}"
    # Plot repaints are throttled to one every PLOT_TICKS ticks, not one per batch.
    assert page.curves.redraws <= elapsed / (REDRAW_MS * PLOT_TICKS / 1000) + 3

    result = state.training
    assert result is page.result and result.status == "completed" and result.kept_epoch == best_epoch(epochs)
    assert result.message in page.result_label.text()
    kept_row = page.table.row_values(result.kept_epoch)
    assert page.table.item(result.kept_epoch, 0).font().bold()  # the table marks the kept row
    # The table, the plots and the summary count epochs alike, from 1.
    assert [page.table.row_values(i)["epoch"] for i in range(2)] == ["1", "2"] == [str(e) for e in page.curves.epochs]
    assert f"kept epoch {kept_row['epoch']} (stage {kept_row['stage']} epoch 1," in result.message
    assert page.progress.bar.value() == page.progress.bar.maximum()
    assert page.start_button.isEnabled() and not page.cancel_button.isEnabled()
    # Every epoch's row shows without scrolling, and the LR plot has room for its shape.
    assert not page.table.verticalScrollBar().isVisible()
    assert page.table.viewport().height() >= page.table.rowCount() * page.table.rowHeight(0)
    assert page.curves.lr_widget.height() >= LR_PLOT_MIN_HEIGHT
    page.grab().save(str(artifacts_dir / "train_page_finished.png"))


@pytest.mark.parametrize("stage", [1, 2])
def test_cancel_mid_stage_keeps_an_exportable_model(qtbot, train_page, tmp_path, artifacts_dir, stage):
    page, state = train_page, train_page.state
    page.use_gate(train_targets.HoldInStage(stage))  # held after the stage's first batch until cancelled
    page.start()
    qtbot.waitUntil(
        lambda: bool(page.gates) and any(isinstance(e, BatchEnd) and e.stage == stage for e in page.gates[0].events),
        timeout=RUN_TIMEOUT_MS,
    )
    if stage == 1:
        qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    else:
        # Held in stage 2's first batch: the live curves show both stages and the marker.
        drawn = lambda: page.curves.point_counts()  # noqa: E731
        qtbot.waitUntil(lambda: drawn()["train_loss"] == drawn()["lr"] == len(page.gates[0].batches()), timeout=5_000)
        assert page.curves.stage_lines[0].isVisible()
        page.grab().save(str(artifacts_dir / "train_page_mid_training_stage2.png"))
        page.activateWindow()
        qtbot.keyClick(page.curves, Qt.Key.Key_Escape)  # Esc cancels too
    wait_until_finished(qtbot, page)

    gate = page.gates[0]
    assert len(gate.batches(stage)) == 1  # stopped within the batch it was in
    assert (StageStart in {type(e) for e in gate.events if getattr(e, "stage", 0) == 2}) == (stage == 2)
    result = state.training
    assert result is not None and result.status == "cancelled"
    assert result.kept_epoch == (None if stage == 1 else 0)
    assert result.message in page.result_label.text()
    # The engine holds the kept weights: they export.
    report = engine.host().run(ExportJob(result.model.id, tmp_path / "model.pkl", spec=result.spec, config=result.config, verify=False))
    assert (tmp_path / "model.pkl").stat().st_size > 0 and report.path == tmp_path / "model.pkl"
    assert page.start_button.isEnabled() and not page.cancel_button.isEnabled()
    # A cancelled run's bar stays where the run stopped, not at 100 %.
    assert 0 < page.progress.bar.value() < page.progress.bar.maximum()
    if stage == 2:
        assert page.table.rowCount() == 1
        assert page.table.item(0, 0).font().bold()  # the kept epoch is marked


def test_closing_during_training_asks_then_stops_cleanly(qtbot, train_page, engine_ends_on_close):
    page = train_page
    asked = []
    page.confirm = lambda title, text: asked.append(text) or False
    page.use_gate(train_targets.until_cancelled)  # the engine's side of the contract, minus the training
    page.start()
    qtbot.waitUntil(lambda: bool(page.gates) and bool(page.gates[0].events) and len(multiprocessing.active_children()) == 1, timeout=60_000)
    assert page.confirm_close() is False and page.is_training()  # "No": keep training
    page.confirm = lambda title, text: asked.append(text) or True
    assert page.confirm_close() is True
    assert len(asked) == 2
    page.shutdown()  # what the window does next: returns once the run has stopped
    assert page._slot.task is None or not page._slot.task.isRunning()
    assert multiprocessing.active_children() == []  # the training process is gone too


def test_the_shown_page_readies_the_process_that_start_then_uses(qtbot, train_page, engine_ends_on_close):
    page = train_page  # shown, with a dataset
    ready = [c.pid for c in multiprocessing.active_children()]
    assert len(ready) == 1
    page.use_gate(train_targets.reports_pid)  # says which process runs it, then waits for cancel
    page.start()
    qtbot.waitUntil(lambda: bool(page.gates) and any(isinstance(e, Message) for e in page.gates[0].events), timeout=60_000)
    ran_in = int(next(e for e in page.gates[0].events if isinstance(e, Message)).text)
    assert ran_in == ready[0]
    page.cancel()
    wait_until_finished(qtbot, page)
    # The same engine process stays for the next run; closing ends it.
    assert [c.pid for c in multiprocessing.active_children()] == ready
    page.shutdown()
    assert multiprocessing.active_children() == []


def test_run_options_edited_here_reach_the_config(qtbot, train_page):
    page, state = train_page, train_page.state
    assert page.confirm_close() is True  # nothing running: no question
    assert page.summary.keep_best.isChecked() and state.train_config.keep_best is True  # on by default
    page.summary.keep_best.setChecked(False)
    assert state.train_config.keep_best is False
    page.summary.keep_best.setChecked(True)
    assert state.train_config.keep_best is True
    page.summary.early_stop.setChecked(True)
    page.summary.patience.setValue(2)
    assert state.train_config.early_stopping_patience == 2
    page.summary.early_stop.setChecked(False)
    assert state.train_config.early_stopping_patience is None
    state.update_train_config(base_lr=1e-3, lr_mult=10.0, unfreeze_depth=2)
    assert page.summary.labels["stage2"].text() == "unfreeze last 2 layer groups, 1 epoch, slice(1.00e-04, 1.00e-03)"
    page.summary.bs.setValue(12)  # the batch size is edited here too
    assert state.train_config.bs == 12
    state.update_train_config(bs=4)
    assert page.summary.bs.value() == 4


def test_the_epoch_table_fits_the_planned_epochs_and_the_curves_take_the_rest(qtbot, train_page):
    page, state = train_page, train_page.state
    split = page.split

    def no_gap():
        return page.curves.height() + page.table.height() + split.handleWidth() == split.height()

    state.update_train_config(freeze_epochs=3, epochs=3)
    qtbot.waitUntil(no_gap)
    tall, curves_then = page.table.height(), page.curves.height()
    state.update_train_config(freeze_epochs=1, epochs=1)  # fewer rows: the table shrinks...
    qtbot.waitUntil(no_gap)  # ...and hands what it gave up to the curves, leaving no empty band
    assert page.table.height() < tall
    assert page.curves.height() == curves_then + tall - page.table.height()


def test_an_architecture_without_weights_here_is_stopped_before_it_starts(qtbot, train_page):
    page, state = train_page, train_page.state
    assert page.start_button.isEnabled() and page.weights_banner.isHidden()
    state.update_train_config(arch="resnet50", pretrained=True)  # its weights are not on this machine
    assert not page.start_button.isEnabled()
    assert page.weights_banner.level == "warning" and "resnet50 weights are not on this machine" in page.weights_banner.text()
    assert "Import a weights file on the Model page" in page.weights_banner.text()
    page.start()  # as a shortcut or a stray call would: nothing starts, nothing downloads
    assert not page.is_training() and page.gates == []
    with qtbot.waitSignal(state.navigate_requested) as went:
        qtbot.mouseClick(page.weights_button, Qt.MouseButton.LeftButton)
    assert went.args == ["model"]
    state.update_train_config(pretrained=False)  # from scratch needs no weights
    assert page.start_button.isEnabled() and page.weights_banner.isHidden() and page.weights_button.isHidden()


def test_progress_line_counts_both_stages_and_estimates_the_time_left(qtbot):
    from tlstudio.qt.widgets.train_progress import TrainProgress

    now = [100.0]
    progress = TrainProgress(clock=lambda: now[0])
    qtbot.addWidget(progress)
    progress.reset({1: 2, 2: 3})
    progress.start_stage(StageStart(1, "Head only (body frozen)", 2, 10, 1, 5, (1e-3,)))
    now[0] += 5.0  # 5 batches in 5 s: 1 s a batch
    progress.add_batch(BatchEnd(1, 0, 4, 10, 5, 0.9, 1e-3, 32.0))
    progress.flush()
    assert (progress.bar.value(), progress.bar.maximum()) == (5, 50)  # (2 + 3 epochs) x 10 batches
    assert progress.eta_seconds() == pytest.approx(45.0)
    text = progress.label.text()
    for part in ("Stage 1: Head only (body frozen)", "epoch 1/2", "batch 5/10", "32 images/s", "ETA 0:45"):
        assert part in text
    progress.add_batch(BatchEnd(1, 1, 9, 10, 20, 0.7, 1e-5, 32.0))  # stage 1's last batch
    progress.start_stage(StageStart(2, "All 5 layer groups unfrozen", 3, 8, 5, 5, (1e-5, 1e-3)))
    progress.add_batch(BatchEnd(2, 0, 0, 8, 21, 0.5, 1e-4, 16.0))
    progress.flush()
    assert (progress.bar.value(), progress.bar.maximum()) == (21, 44)  # stage 2 has 8 batches an epoch
    assert "epoch 1/3" in progress.label.text() and "batch 1/8" in progress.label.text()
