"""Every page of the main window, in a realistic state (the demo dataset open,
a real LR-finder curve, a real tiny training run and its evaluation), at
1024 x 700, 1200 x 800 (the default) and 1600 x 1000: no text is clipped or
elided anywhere, no legend covers a plot's data.

Each page is also saved as a screenshot under test-artifacts/. The
screenshots in docs/ come from a real window: scripts/screenshots.py.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from layout_check import clipped

from tlstudio.core.models.registry import ARCHS
from tlstudio.qt import engine
from tlstudio.qt.main_window import PAGES, MainWindow
from tlstudio.qt.widgets.gallery_model import LOADED_ROLE
from tlstudio.qt.workers import EngineTask

SIZES = ((1024, 700), (1200, 800), (1600, 1000))
WAIT_MS = 120_000


@pytest.fixture(scope="module")
def lr_result(tiny_spec, tiny_config):
    """A real stage-1 finder curve on the tiny set, with its four suggestions."""
    from tlstudio.core.training.lr_find import run_lr_find
    from tlstudio.core.training import run as training

    return run_lr_find(training.prepare_learner(tiny_spec, tiny_config), num_it=60)


@pytest.fixture(scope="module")
def demo_elsewhere(tmp_path_factory, demo_dir):
    """The demo, scanned through a link in a temporary folder: the screenshots show
    a user's kind of path, not where this checkout happens to be."""
    from tlstudio.core.dataset.scan import scan

    link = tmp_path_factory.mktemp("datasets") / "demo"
    link.symlink_to(demo_dir, target_is_directory=True)
    return scan(link)


def thumbnails_shown(gallery) -> bool:
    """Every thumbnail on screen is the image, not its grey placeholder."""
    view, model = gallery.view, gallery.model
    first, last = view.visible_rows()
    on_screen = [
        model.index(r, 0) for r in range(first, min(last, model.rowCount()))
        if view.visualRect(model.index(r, 0)).intersects(view.viewport().rect())
    ]
    return bool(on_screen) and all(index.data(LOADED_ROLE) for index in on_screen)


@pytest.fixture
def window(qtbot, state, monkeypatch, demo_elsewhere, trained_run, trained_result, lr_result):
    """The window with every page filled from real results, as a user sees it after one run."""
    # Nothing here trains: the engine process starts only for the pages' own jobs.
    monkeypatch.setattr(engine, "prestart", lambda: None)
    window = MainWindow(state)
    qtbot.addWidget(window)
    window.projects.confirm_discard = lambda _what, _reasons: "discard"  # a layout check: nothing to keep
    window.resize(*SIZES[0])
    window.show()
    state.set_dataset(demo_elsewhere)
    pages = window.pages

    pages["lr"]._finished(lr_result)
    train = pages["train"]
    train._started_at = time.monotonic()
    for event in trained_run.events:
        train._on_event(event)
    train._succeeded(trained_result)  # the run was on another dataset: the page keeps it to itself
    state.set_training(trained_result)

    window.show_page("augment")
    qtbot.waitUntil(lambda: pages["augment"].previews is not None, timeout=WAIT_MS)
    window.show_page("model")
    qtbot.waitUntil(lambda: len(pages["model"].depth.groups) == ARCHS[state.train_config.arch].n_groups, timeout=WAIT_MS)
    window.show_page("evaluate")
    evaluate = pages["evaluate"]
    qtbot.waitUntil(lambda: evaluate.interpretation is not None and not evaluate.slot.is_running(), timeout=WAIT_MS)
    yield window
    window.close()
    qtbot.waitUntil(lambda: not EngineTask.live_tasks(), timeout=30_000)


def save_screenshot(window, name: str, artifacts_dir: Path) -> None:
    window.grab().save(str(artifacts_dir / f"{name}.png"))


def test_no_page_clips_its_text_at_small_or_large_sizes(qtbot, window, artifacts_dir):
    problems = []
    for width, height in SIZES:
        window.resize(width, height)
        for number, (key, *_rest) in enumerate(PAGES, start=1):
            window.show_page(key)
            qtbot.wait(50)  # layouts settle, deferred redraws run
            for gallery in {"data": [window.pages["data"].gallery], "augment": [window.pages["augment"].picker]}.get(key, []):
                qtbot.waitUntil(lambda g=gallery: thumbnails_shown(g), timeout=WAIT_MS)
            assert not window.hosts[key].is_gated(), key
            if (window.width(), window.height()) != (width, height):
                hint = window.pages[key].minimumSizeHint()
                problems.append(
                    f"{width}x{height}: the window cannot shrink to this size, it is {window.width()}x{window.height()} "
                    f"({key} needs {hint.width()}x{hint.height()})"
                )
            problems += [f"{width}x{height} {key}: {p}" for p in clipped(window)]
            save_screenshot(window, f"{number}-{key}-{width}x{height}", artifacts_dir)
    assert not problems, "\n".join(problems)
