"""Train page: an image that fails to decode during a real run is named in the status bar and the result, not trained on."""
from __future__ import annotations

import pytest
from core.source_digest import damaged_data_png, digest
from fixtures_engine import make_tiny_spec
from PySide6.QtCore import Qt

from tlstudio.core.dataset.scan import scan
from tlstudio.core.jobs.delivery import EvaluateJob
from tlstudio.qt import engine
from tlstudio.qt.app_state import AppState
from tlstudio.qt.pages.train_page import TrainPage

RUN_TIMEOUT_MS = 240_000  # generous: a loaded 2-core machine can be 10x slower


@pytest.fixture
def spoiled_page(qtbot, tmp_path, demo_dir, tiny_config):
    root = tmp_path / "photos"
    make_tiny_spec(root, demo_dir)
    bad = damaged_data_png(sorted((root / "valid" / "bag").glob("*.png"))[0])
    spec = scan(root)
    state = AppState()
    state.set_dataset(spec)
    state.update_train_config(**{f: getattr(tiny_config, f) for f in ("augment", "bs", "freeze_epochs", "epochs", "device", "seed")})
    page = TrainPage(state)
    page.resize(1150, 820)
    qtbot.addWidget(page)
    page.show()
    yield page, spec, bad
    page.shutdown()


def test_the_page_names_an_image_dropped_in_training(qtbot, spoiled_page, artifacts_dir):
    page, spec, bad = spoiled_page
    before = digest(spec.root)
    shown: list[str] = []
    page.state.status_message.connect(shown.append)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.is_training() and page.start_button.isEnabled(), timeout=RUN_TIMEOUT_MS)
    result = page.result
    assert result is not None and result.status == "completed", page.result_label.text()
    assert result.dropped == (str(bad),)
    note = (f"; 1 image could not be decoded and was left out (valid/bag/{bad.name}); "
            "the validation metrics cover 11 of 12 validation images")
    assert result.message.endswith(note) and page.result_label.text().endswith(note)
    assert "1 image could not be decoded and was left out" in shown
    page.grab().save(str(artifacts_dir / "train_page_dropped_image.png"))
    # The learner held in the engine leaves the file out too, so evaluating it works.
    evaluation = engine.host().run(EvaluateJob(result.model.id, spec, "valid"))
    assert len(evaluation.paths) == 11 and bad not in evaluation.paths
    assert digest(spec.root) == before
