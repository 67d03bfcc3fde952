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
STEP_S = 600


def wait(app, done, what: str) -> None:
    deadline = time.monotonic() + STEP_S
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


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

    state.set_dataset(scan(demo))  # Data
    state.update_train_config(augment=AugmentConfig(size=32), bs=16, freeze_epochs=1, epochs=1, device="cpu", seed=1)
    window.show_page("augment")
    wait(app, lambda: pages["augment"].previews is not None, "the augmentation previews")
    facts["previews"] = len(pages["augment"].previews["batch"])
    window.show_page("model")
    wait(app, lambda: len(pages["model"].depth.groups) > 0, "the layer groups")
    facts["groups"] = len(pages["model"].depth.groups)

    window.show_page("lr")
    lr = pages["lr"]
    lr.options = {**lr.options, "num_it": 20}
    lr.run_finder()
    wait(app, lambda: 1 in lr.results and not lr.is_running(), "the LR finder")
    facts["lr_points"] = len(lr.results[1].lrs)

    window.show_page("train")
    train = pages["train"]
    train.start()
    wait(app, lambda: train.result is not None and not train.is_training(), "training")
    facts["train_status"] = train.result.status

    window.show_page("evaluate")
    evaluate = pages["evaluate"]
    wait(app, lambda: evaluate.interpretation is not None and not evaluate.slot.is_running(), "the evaluation")
    facts["evaluated"] = int(evaluate.interpretation.confusion.sum())

    window.show_page("export")
    export = pages["export"]
    export.format_combo.setCurrentIndex(export.format_combo.findData("tlsmodel"))
    export.path_edit.setText(str(Path(out) / "demo.tlsmodel"))
    export.export()
    wait(app, lambda: export.report is not None, "the export")
    facts["exported"] = bool(export.report.verified)

    window.show_page("predict")
    predict = pages["predict"]
    predict.use_trained_model()
    predict.take_paths([next(p for p in sorted(Path(demo).iterdir()) if p.is_dir())])
    wait(app, lambda: predict.result is not None and not predict.slot.is_running(), "the prediction")
    facts["predicted"] = len(predict.result.predictions)

    facts["heavy"] = sorted(m for m in HEAVY if m in sys.modules)
    window.close()
    app.processEvents()
    return facts


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    print(json.dumps(main(*sys.argv[1:3])))
