"""The whole workflow in a window, in a fresh process, on the demo set: data, augment, model,
LR finder, train, evaluate, export, predict. Prints one JSON line: what each step produced and
which of torch, fastai, torchvision and timm the window's process imported.

Run by tests/qt/test_window_imports.py as `python window_workflow.py DEMO OUT_DIR`."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

HEAVY = ("torch", "fastai", "torchvision", "timm")
# A step's time limit, and the batch size: bench/bench_window.py raises both for the 70,000-image set.
STEP_S = float(os.environ.get("TLSTUDIO_WORKFLOW_STEP_S", 600))
BS = int(os.environ.get("TLSTUDIO_WORKFLOW_BS", 16))


class LoopGaps:
    """How long the event loop went without running a 5 ms timer, per step (bench/bench_window.py)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: dict[str, list[float]] = {}
        self.step, self._last = None, time.perf_counter()
        self.timer = QTimer(interval=5, timeout=self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.step is not None:
            self.gaps.setdefault(self.step, []).append((now - self._last) * 1000)
        self._last = now

    def summary(self) -> dict:
        out = {}
        for step, gaps in self.gaps.items():
            gaps = sorted(gaps)
            out[step] = {"p99_ms": round(gaps[int(0.99 * (len(gaps) - 1))], 1), "max_ms": round(gaps[-1], 1)}
        return out


def wait(app, done, what: str, gaps: LoopGaps | None = None) -> None:
    """Run the event loop (as `exec` would, so the timer measures real gaps) until `done()`."""
    from PySide6.QtCore import QEventLoop, QTimer

    if gaps is not None:
        gaps.step, gaps._last = what, time.perf_counter()
    deadline = time.monotonic() + STEP_S
    loop = QEventLoop()
    # processEvents(flags, maxTime) ignores WaitForMoreEvents and returns at once: looping on
    # it spun a whole core, taken from the engine process it waits for. Without maxTime it
    # sleeps until an event; this timer wakes it at least every 50 ms to look at the deadline.
    awake = QTimer(interval=50)
    awake.start()
    try:
        while not done():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            loop.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    finally:
        awake.stop()
    if gaps is not None:
        gaps.step = None


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(demo: str, out: str) -> dict:
    from PySide6.QtWidgets import QApplication

    from tlstudio.core.config import AugmentConfig
    from tlstudio.core.dataset.scan import scan
    from tlstudio.qt.app_state import AppState
    from tlstudio.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    state = AppState()
    window = MainWindow(state)
    window.resize(1200, 800)
    window.show()
    pages = window.pages
    facts = {}
    gaps = LoopGaps()

    state.set_dataset(scan(demo))  # Data
    state.update_train_config(augment=AugmentConfig(size=32), bs=BS, freeze_epochs=1, epochs=1, device="cpu", seed=1)
    window.show_page("augment")
    wait(app, lambda: pages["augment"].previews is not None, "the augmentation previews", gaps)
    facts["previews"] = len(pages["augment"].previews["batch"])
    window.show_page("model")
    wait(app, lambda: len(pages["model"].depth.groups) > 0, "the layer groups", gaps)
    facts["groups"] = len(pages["model"].depth.groups)

    window.show_page("lr")
    lr = pages["lr"]
    lr.options = {**lr.options, "num_it": 20}
    lr.run_finder()
    wait(app, lambda: 1 in lr.results and not lr.is_running(), "the LR finder", gaps)
    facts["lr_points"] = len(lr.results[1].lrs)

    window.show_page("train")
    train = pages["train"]
    started, first_stage = time.perf_counter(), []
    on_event = train._on_event

    def timed(event):
        if not first_stage and type(event).__name__ == "StageStart":
            first_stage.append(time.perf_counter() - started)
        on_event(event)

    train._on_event = timed
    train.start()
    wait(app, lambda: train.result is not None and not train.is_training(), "training", gaps)
    facts["train_status"] = train.result.status

    window.show_page("evaluate")
    evaluate = pages["evaluate"]
    wait(app, lambda: evaluate.interpretation is not None and not evaluate.slot.is_running(), "the evaluation", gaps)
    facts["evaluated"] = int(evaluate.interpretation.confusion.sum())

    window.show_page("export")
    export = pages["export"]
    export.format_combo.setCurrentIndex(export.format_combo.findData("tlsmodel"))
    export.path_edit.setText(str(Path(out) / "demo.tlsmodel"))
    export.export()
    wait(app, lambda: export.report is not None, "the export", gaps)
    facts["exported"] = bool(export.report.verified)

    window.show_page("predict")
    predict = pages["predict"]
    predict.use_trained_model()
    predict.take_paths([next(p for p in sorted(Path(demo).iterdir()) if p.is_dir())])
    wait(app, lambda: predict.result is not None and not predict.slot.is_running(), "the prediction", gaps)
    facts["predicted"] = len(predict.result.predictions)

    facts["start_to_first_stage_s"] = round(first_stage[0], 2) if first_stage else None
    facts["loop_gaps"] = gaps.summary()
    facts["window_rss_mb"] = round(resident_mb(), 1)
    facts["heavy"] = sorted(m for m in HEAVY if m in sys.modules)
    window.projects.confirm_discard = lambda _what, _reasons: "discard"  # the model was exported
    window.close()
    app.processEvents()
    return facts


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    print(json.dumps(main(*sys.argv[1:3])))
