"""Screenshots of every page in a real X11 window, after a real short run on the demo set.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--epochs 2 2] [--xvfb]

Walks the workflow as a user would: opens the bundled demo dataset (through a
link in a temporary folder, so the pages show a user's kind of path),
previews the augmentations, runs the LR finder, trains (real fastai: the
frozen-head epochs, then the unfrozen ones), evaluates, exports a verified
.tlsmodel, tries it on three images and predicts one class folder with the
trained model. Then it shows
every page at 1200 x 800, 1024 x 700 and 1600 x 1000, grabs the screen and
writes `N-PAGE-WIDTHxHEIGHT.png` (N: the step's number). The training
summary is put back in the status bar before each picture, as it reads right
after the run. Whatever `tests/qt/layout_check.py` finds clipped is printed,
and the exit status is 1 when it finds anything. On a busy 2-core machine a
run takes 10 to 20 minutes, most of it fastai's first import and training.

With no DISPLAY (or with --xvfb) it starts its own Xvfb, which needs
`sudo apt-get install xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1`.
Settings, the app's data folder and the export go to a temporary folder: the
user's own are never touched.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZES = ((1200, 800), (1024, 700), (1600, 1000))
STEP_TIMEOUT_S = 900  # a shared 2-core machine trains the unfrozen epochs slowly


def start_xvfb() -> subprocess.Popen:
    """An Xvfb on the first free display number, as large as the largest size."""
    width, height = max(w for w, _ in SIZES), max(h for _, h in SIZES)
    for number in range(91, 120):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        server = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                os.environ["DISPLAY"] = f":{number}"
                return server
            if server.poll() is not None:
                break
            time.sleep(0.1)
        server.kill()
    raise SystemExit("Could not start Xvfb (is it installed? sudo apt-get install xvfb)")


def wait_until(condition, what: str, timeout_s: float = STEP_TIMEOUT_S) -> bool:
    """Run the event loop until `condition()`; False (and a line saying so) after `timeout_s`."""
    from PySide6.QtTest import QTest

    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            print(f"Timed out after {timeout_s:.0f} s waiting for {what}", flush=True)
            return False
        QTest.qWait(50)
    if time.monotonic() - started > 1:
        print(f"{time.monotonic() - started:6.1f} s  {what}", flush=True)
    return True


def need(condition, what: str) -> None:
    if not wait_until(condition, what):
        raise SystemExit(f"Gave up: no {what}")


def run_workflow(window, demo: Path, epochs: tuple[int, int], models: Path) -> None:
    """Every step once, through the pages' own controls, so each page shows real results."""
    from tlstudio.core.models.registry import ARCHS

    pages, state = window.pages, window.state
    window.open_dataset(demo)
    need(lambda: state.dataset is not None, "the demo dataset to open")
    state.update_train_config(freeze_epochs=epochs[0], epochs=epochs[1])
    window.show_page("augment")
    need(lambda: pages["augment"].previews is not None, "the augmentation previews")
    window.show_page("model")
    arch = ARCHS[state.train_config.arch]
    need(lambda: len(pages["model"].depth.groups) == arch.n_groups, "the model's layer groups")
    window.show_page("lr")
    pages["lr"].run_finder()
    need(lambda: 1 in pages["lr"].results and not pages["lr"].is_running(), "the LR finder")
    window.show_page("train")
    need(lambda: pages["train"].start_button.isEnabled(), "the Train page to be ready")
    pages["train"].start()
    need(lambda: not pages["train"].is_training() and pages["train"].result is not None, "training")
    print(pages["train"].result.message, flush=True)
    window.show_page("evaluate")
    need(lambda: pages["evaluate"].interpretation is not None and not pages["evaluate"].slot.is_running(), "evaluation")
    window.show_page("export")
    export = pages["export"]
    export.path_edit.setText(str(models / "demo-mobilenet_v2.tlsmodel"))
    export.export()
    need(lambda: export.report is not None and not export.export_slot.is_running(), "the verified export")
    try_it = export.try_panel
    try_it.predict(sorted((demo / "bag").glob("*.png"))[:3])
    need(lambda: try_it.predictions.topLevelItemCount() == 3 and not try_it.slot.is_running(), "Try it's predictions")
    window.show_page("predict")
    predict = pages["predict"]
    need(lambda: predict.model is not None, "the Predict page's model")
    predict.take_paths([demo / "ankle-boot"])
    need(lambda: predict.result is not None and not predict.slot.is_running(), "predictions")


def thumbnails_shown(gallery) -> bool:
    """Every thumbnail on screen is the image, not its grey placeholder."""
    from tlstudio.qt.widgets.gallery_model import LOADED_ROLE

    view, model = gallery.view, gallery.model
    first, last = view.visible_rows()
    rows = [model.index(r, 0) for r in range(first, min(last, model.rowCount()))]
    on_screen = [i for i in rows if view.visualRect(i).intersects(view.viewport().rect())]
    return bool(on_screen) and all(i.data(LOADED_ROLE) for i in on_screen)


def grab_every_page(app, window, out: Path) -> list[str]:
    from PIL import Image
    from PySide6.QtTest import QTest

    sys.path.insert(0, str(REPO / "tests" / "qt"))
    from layout_check import clipped

    from tlstudio.qt.main_window import PAGES

    problems = []
    out.mkdir(parents=True, exist_ok=True)
    summary = window.pages["train"].result.message
    for width, height in SIZES:
        window.resize(width, height)
        for number, (key, *_rest) in enumerate(PAGES, start=1):
            window.show_page(key)
            window.state.status_message.emit(summary)
            if not wait_until(lambda: (window.width(), window.height()) == (width, height), f"the window at {width}x{height}", 5):
                hints = {k: page.minimumSizeHint() for k, page in window.pages.items()}
                widest = ", ".join(f"{k} {h.width()}x{h.height()}" for k, h in hints.items())
                problems.append(f"{width}x{height}: the window is {window.width()}x{window.height()}; pages need {widest}")

            galleries = {"data": window.pages["data"].gallery, "augment": window.pages["augment"].picker}
            if key in galleries:
                wait_until(lambda: thumbnails_shown(galleries[key]), f"the {key} page's thumbnails", 120)
            QTest.qWait(700)  # layouts settle, the X server draws
            geometry = window.frameGeometry()
            shot = app.primaryScreen().grabWindow(0, geometry.x(), geometry.y(), geometry.width(), geometry.height())
            path = out / f"{number}-{key}-{width}x{height}.png"
            raw = Path(tempfile.mkstemp(suffix=".png")[1])
            shot.save(str(raw))
            with Image.open(raw) as image:  # a 256-colour palette keeps the repository small
                image.convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(path, optimize=True)
            raw.unlink()
            problems += [f"{width}x{height} {key}: {p}" for p in clipped(window)]
            print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}", flush=True)
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--epochs", type=int, nargs=2, default=(2, 2), metavar=("FROZEN", "UNFROZEN"))
    parser.add_argument("--xvfb", action="store_true", help="start an Xvfb even when DISPLAY is set")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tlstudio-screenshots-"))
    server = start_xvfb() if args.xvfb or not os.environ.get("DISPLAY") else None
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ["TLSTUDIO_SETTINGS_DIR"] = str(work / "settings")
    os.environ["TLSTUDIO_DATA_DIR"] = str(work / "data")
    try:
        sys.path.insert(0, str(REPO))
        from tlstudio.app import create_application, responsive_gui_thread
        from tlstudio.library_warnings import quiet_library_warnings
        from tlstudio.qt.main_window import MainWindow

        quiet_library_warnings()
        demo = work / "datasets" / "fashion-demo"
        demo.parent.mkdir(parents=True)
        demo.symlink_to(REPO / "resources" / "demo", target_is_directory=True)
        (work / "models").mkdir()
        app = create_application()
        with responsive_gui_thread():
            window = MainWindow()
            window.move(0, 0)
            window.show()
            run_workflow(window, demo, tuple(args.epochs), work / "models")
            problems = grab_every_page(app, window, args.out)
            print("\n".join(problems) or "Nothing clipped.", flush=True)
            window.projects.confirm_discard = lambda _what, _reasons: "discard"  # the demo run is not kept
            window.close()
        return 1 if problems else 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
