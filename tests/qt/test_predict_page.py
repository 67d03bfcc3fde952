"""The Predict page on a real tiny model: a model file or the model in memory,
dropped folders predicted off the GUI thread, labelled folders scored, files
that are no images named, sort, threshold, CSV, trust, and drops that never
open a dataset."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, QSize, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLabel

from tlstudio.qt.pages.predict_page import PredictPage
from tlstudio.qt.workers import EngineTask


@pytest.fixture(scope="module")
def model_file(trained_run, tmp_path_factory):
    """The tiny model exported as a .pkl by this app (so it opens without a trust question)."""
    from tlstudio.core.delivery.export import export_model

    path = tmp_path_factory.mktemp("model") / "tiny.pkl"
    trained = trained_run.result  # the weights the engine holds
    export_model(trained.learn, path, spec=trained.spec, config=trained.config, verify=False)
    return path


@pytest.fixture
def labelled(trained_result, tmp_path) -> Path:
    """check/<class>/*.png (the tiny set's validation images) plus a file that is no image."""
    spec = trained_result.spec
    root = tmp_path / "check"
    for i in spec.indices("valid"):
        dest = root / spec.labels[i] / spec.items[i].name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(spec.items[i], dest)
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture
def page(qtbot, state):
    page = PredictPage(state)
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    yield page
    page.shutdown()
    qtbot.waitUntil(lambda: not EngineTask.live_tasks(), timeout=30_000)


def drop(widget, paths) -> bool:
    """Drags local files onto `widget` and drops them, as a file manager would; True when taken."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    where = widget.rect().center()
    enter = QDragEnterEvent(where, Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(where), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def wait_result(qtbot, page, previous=None, timeout=60_000):
    qtbot.waitUntil(lambda: page.result is not None and page.result is not previous and not page.slot.is_running(), timeout=timeout)
    return page.result


def test_a_dropped_model_file_predicts_a_dropped_labelled_folder(qtbot, page, model_file, labelled, trained_result):
    classes = trained_result.spec.classes
    assert drop(page, [model_file])
    assert page.slot.is_running() and page.progress.isVisible()  # loading off the GUI thread
    qtbot.waitUntil(lambda: page.model is not None, timeout=30_000)
    assert not page.model_in_memory and page.model.classes == classes
    assert "tiny.pkl" in page.model_label.text() and "3 classes" in page.model_label.text()

    assert drop(page.table, [labelled])  # anywhere on the page
    result = wait_result(qtbot, page)
    images = sorted(p for p in labelled.rglob("*.png"))
    assert [p.path for p in result.predictions] == images
    assert page.table.model().rowCount() == len(images)
    assert all(p.label in classes and len(p.top_k) == len(classes) for p in result.predictions)

    expected = np.zeros((len(classes), len(classes)), dtype=int)
    for p in result.predictions:
        expected[classes.index(p.path.parent.name), classes.index(p.label)] += 1
    correct = int(np.trace(expected))
    assert page.results.matrix.classes == classes and page.results.matrix.counts.tolist() == expected.tolist()
    assert page.results.tabs.isTabEnabled(1)
    assert page.results.accuracy_label.text().startswith(
        f"Accuracy <b>{correct / len(images):.1%}</b>: {correct} of {len(images)} images in class folders predicted right"
        " (labelled by the class folders in check)."
    )
    assert f"{len(images)} images predicted" in page.results.summary.text() and "1 other file skipped" in page.results.summary.text()
    assert not page.table.isColumnHidden(2)
    actual = [page.table.model().index(r, 2).data() for r in range(len(images))]
    assert actual == [f"{p.path.parent.name}  {'✔' if p.label == p.path.parent.name else '✘'}" for p in result.predictions]

    # A matrix cell shows its images, and only those.
    i, j = np.unravel_index(np.argmax(expected), expected.shape)
    page.results.tabs.setCurrentIndex(1)
    page.results.matrix.cell_clicked.emit(int(i), int(j))
    assert page.results.tabs.currentIndex() == 0 and page.results.all_button.isVisible()
    in_cell = [p for p in result.predictions if (p.path.parent.name, p.label) == (classes[i], classes[j])]
    assert page.table.shown_predictions() == in_cell and len(in_cell) == expected[i, j]
    assert page.results.cell_label.text() == f"Showing the images of class <b>{classes[i]}</b> predicted as <b>{classes[j]}</b>"
    qtbot.mouseClick(page.results.all_button, Qt.MouseButton.LeftButton)
    assert page.table.shown_predictions() == result.predictions and not page.results.all_button.isVisible()

    # The file that is no image is named, with its folder, and nothing else happened to it.
    assert page.results.tabs.tabText(2) == "Skipped (1)"
    assert [page.results.skipped_list.item(i).text() for i in range(page.results.skipped_list.count())] == [
        f"'notes.txt' is not an image file (in {labelled})"
    ]


def test_sort_by_confidence_and_threshold_filter(qtbot, page, model_file, labelled):
    page.take_paths([model_file, labelled])
    result = wait_result(qtbot, page)
    probs = [p.prob for p in result.predictions]
    controls = page.controls

    controls.sort.setCurrentIndex(controls.sort.findText("Most confident first"))
    assert [p.prob for p in page.table.shown_predictions()] == sorted(probs, reverse=True)
    controls.sort.setCurrentIndex(controls.sort.findText("Least confident first"))
    assert [p.prob for p in page.table.shown_predictions()] == sorted(probs)
    controls.sort.setCurrentIndex(controls.sort.findText("Input order"))
    assert page.table.shown_predictions() == result.predictions

    threshold = int(round(float(np.median(probs)) * 100))
    assert not controls.threshold.isEnabled()
    controls.threshold.setValue(threshold)
    controls.show_mode.setCurrentIndex(controls.show_mode.findText("At or above"))
    assert controls.threshold.isEnabled()
    above = [p for p in result.predictions if p.prob >= threshold / 100]
    assert page.table.shown_predictions() == above
    controls.show_mode.setCurrentIndex(controls.show_mode.findText("Below"))
    below = [p for p in result.predictions if p.prob < threshold / 100]
    assert page.table.shown_predictions() == below
    assert len(above) + len(below) == len(probs) and above and below
    controls.threshold.setValue(100)
    assert page.table.shown_predictions() == [p for p in result.predictions if p.prob < 1.0]
    controls.show_mode.setCurrentIndex(controls.show_mode.findText("At or above"))
    assert page.table.shown_predictions() == [] and page.table.empty_text() == "No image matches this filter."
    controls.show_mode.setCurrentIndex(controls.show_mode.findText("All images"))
    assert page.table.shown_predictions() == result.predictions

    controls.top_k.setValue(2)
    assert page.table.model().headerData(1, Qt.Orientation.Horizontal) == "Top 2 (probability)"
    assert page.table.verticalHeader().defaultSectionSize() >= 64

    first = result.predictions[0]
    page.table.doubleClicked.emit(page.table.model().index(0, 0))  # a larger view of the image
    (viewer,) = page.table.viewers
    assert viewer.isVisible() and viewer.windowTitle() == first.path.name
    caption = f"{first.top_k[0][0]} {first.top_k[0][1]:.1%}   {first.top_k[1][0]} {first.top_k[1][1]:.1%}"
    assert any(label.text().startswith(caption) for label in viewer.findChildren(QLabel))
    viewer.close()


def test_results_save_as_csv(qtbot, page, model_file, labelled, tmp_path):
    page.take_paths([model_file])
    page.take_paths([labelled])  # dropped while the model loads: predicted once it is there
    assert page.status.text().startswith("Loading tiny.pkl: what was dropped is predicted once it is loaded")
    result = wait_result(qtbot, page)
    assert page.model.path == model_file
    page.controls.top_k.setValue(2)
    target = tmp_path / "out" / "predictions.csv"
    target.parent.mkdir()
    page.save_csv(target)
    assert page.status.text() == f"Saved {len(result.predictions)} predictions to {target}"
    with target.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["path"] for r in rows] == [str(p.path) for p in result.predictions]
    for row, p in zip(rows, result.predictions):
        assert row["predicted"] == p.label and float(row["probability"]) == pytest.approx(p.prob, abs=1e-6)
        assert row["actual"] == p.path.parent.name and row["correct"] == str(p.label == p.path.parent.name).lower()
        assert (row["label_1"], row["label_2"]) == (p.top_k[0][0], p.top_k[1][0])
        assert float(row["prob_2"]) == pytest.approx(p.top_k[1][1], abs=1e-6)
        assert "label_3" not in row and row["error"] == ""


def test_an_unreadable_image_is_a_row_with_its_error(qtbot, page, model_file, trained_result, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    good = trained_result.spec.items[0]
    page.take_paths([model_file, good, broken])
    result = wait_result(qtbot, page)
    assert [p.path for p in result.predictions] == [good, broken]
    assert result.predictions[0].label in trained_result.spec.classes
    assert "cannot read image" in result.predictions[1].error
    assert "1 images predicted · 1 could not be read" in page.results.summary.text()
    assert not page.results.tabs.isTabEnabled(1) and not page.results.tabs.isTabEnabled(2) and page.table.isColumnHidden(2)
    page.controls.show_mode.setCurrentIndex(page.controls.show_mode.findText("Below"))
    page.controls.threshold.setValue(100)
    assert broken not in [p.path for p in page.table.shown_predictions()]  # no confidence to compare


def test_the_model_in_memory_predicts_without_a_file(qtbot, page, state, trained_result, trained_run, labelled):
    from tlstudio.core.delivery.export import predict
    from tlstudio.core.delivery.predict_batch import in_memory_model

    assert not page.memory_button.isEnabled() and page.model is None
    assert page.table.empty_text().startswith("No predictions yet") and not page.save_button.isEnabled()
    assert drop(page, [labelled])
    assert page.status.text().startswith("Open a model file first")
    state.set_training(trained_result)  # the dropped folder is predicted as soon as there is a model
    assert page.model_in_memory and page.memory_button.isEnabled()
    assert "the trained model (in memory, not saved)" in page.model_label.text()
    result = wait_result(qtbot, page)
    images = sorted(labelled.rglob("*.png"))
    direct = predict(in_memory_model(trained_run.result.learn), images, top_k=3)  # the engine's weights, here
    assert [(p.path, p.label) for p in result.predictions] == [(p.path, p.label) for p in direct]
    assert result.score is not None and result.score.n_scored == len(images)

    state.set_training(None)  # a new dataset: the trained model is gone, so is its use here
    assert page.model is None and not page.memory_button.isEnabled()
    assert page.model_label.text().startswith("No model yet")


def test_a_foreign_pickle_asks_for_trust_and_loads_nothing_on_no(qtbot, page, model_file, labelled, tmp_path, monkeypatch, engine_env):
    foreign = tmp_path / "elsewhere" / "m.pkl"
    foreign.parent.mkdir()
    shutil.copyfile(model_file, foreign)
    engine_env("TLSTUDIO_DATA_DIR", tmp_path / "another-machine")  # not exported on this machine
    questions = []
    monkeypatch.setattr(page, "confirm_trust", lambda message: questions.append(message) or False)
    page.take_paths([foreign, labelled])
    qtbot.waitUntil(lambda: page.status.text().startswith("Not loaded"), timeout=30_000)
    assert len(questions) == 1 and "not exported by TL Studio on this machine" in questions[0]
    assert page.model is None and page.result is None and page.model_label.text().startswith("No model yet")

    monkeypatch.setattr(page, "confirm_trust", lambda message: questions.append(message) or True)
    page.open_model_file(foreign)
    result = wait_result(qtbot, page)
    assert len(questions) == 2 and page.model.path == foreign
    assert len(result.predictions) == len(list(labelled.rglob("*.png")))


def test_predicting_can_be_cancelled_and_keeps_what_was_done(qtbot, page, model_file, trained_result, tmp_path):
    from tlstudio.core.delivery.predict_batch import CHUNK

    page.open_model_file(model_file)
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)  # loading stops, no model
    assert page.status.text() == "Not loaded: loading tiny.pkl was cancelled." and not page.cancel_button.isVisible()
    qtbot.waitUntil(lambda: not EngineTask.live_tasks(), timeout=30_000)
    assert page.model is None
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(CHUNK * 8):
        shutil.copyfile(trained_result.spec.items[i % len(trained_result.spec.items)], folder / f"{i:03d}.png")
    page.open_model_file(model_file)
    qtbot.waitUntil(lambda: page.model is not None and not page.slot.is_running(), timeout=30_000)
    page.take_paths([folder])
    qtbot.waitUntil(lambda: page.progress.maximum() == CHUNK * 8 and page.progress.value() >= CHUNK, timeout=60_000)
    assert page.cancel_button.isVisible()
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    result = wait_result(qtbot, page)
    assert result.cancelled and CHUNK <= len(result.predictions) < CHUNK * 8
    assert page.status.text() == f"Cancelled: {len(result.predictions)} of {CHUNK * 8} images predicted."
    assert not page.cancel_button.isVisible() and page.table.model().rowCount() == len(result.predictions)

    # A new drop while predicting replaces the run: only its own results arrive.
    page.take_paths([folder])
    qtbot.waitUntil(lambda: page.progress.value() >= CHUNK, timeout=60_000)
    page.take_paths([trained_result.spec.items[0]])
    last = wait_result(qtbot, page, previous=result)
    assert [p.path for p in last.predictions] == [trained_result.spec.items[0]] and not last.cancelled
    qtbot.waitUntil(lambda: not EngineTask.live_tasks(), timeout=60_000)
    assert page.result is last


def test_the_window_gives_drops_to_the_predict_page_not_to_a_dataset(qtbot, main_window, model_file, labelled):
    page = main_window.pages["predict"]
    main_window.show()
    qtbot.waitExposed(main_window)
    main_window.activateWindow()
    qtbot.waitUntil(main_window.isActiveWindow)
    qtbot.keyClick(main_window.sidebar, Qt.Key.Key_8, Qt.KeyboardModifier.ControlModifier)
    assert main_window.current_page_key() == "predict" and not main_window.hosts["predict"].is_gated()
    with qtbot.assertNotEmitted(main_window.state.dataset_changed, wait=300):
        assert drop(main_window, [model_file])  # on the window itself, e.g. its sidebar
        qtbot.waitUntil(lambda: page.model is not None, timeout=30_000)
        assert drop(main_window, [labelled])  # a folder with class folders: a dataset on any other page
        wait_result(qtbot, page)
    assert main_window.state.dataset is None and not main_window.data_page.is_scanning()
    assert len(page.result.predictions) == len(list(labelled.rglob("*.png")))


@pytest.mark.parametrize("size", [QSize(1200, 800), QSize(1024, 700)])
def test_screenshots_show_nothing_clipped(qtbot, main_window, model_file, labelled, artifacts_dir, size):
    """The page at the room it has in a window of `size`, empty and with a labelled folder predicted."""
    page, host = main_window.pages["predict"], main_window.hosts["predict"]
    main_window.show_page("predict")
    main_window.resize(1200, 800)
    main_window.show()
    qtbot.waitExposed(main_window)
    chrome = QSize(main_window.width() - main_window.stack.width(), main_window.height() - main_window.stack.height())
    room = size - chrome
    assert page.minimumSizeHint().width() <= room.width() and page.minimumSizeHint().height() <= room.height()
    # Another page may hold the whole window wider than `size`; this page is shown at its share of it.
    page.setParent(None)
    page.resize(room)
    page.show()
    qtbot.waitExposed(page)
    name = f"predict_page_{size.width()}x{size.height()}"
    page.grab().save(str(artifacts_dir / f"{name}_empty.png"))
    page.take_paths([model_file, labelled])
    wait_result(qtbot, page)
    qtbot.waitUntil(lambda: page.table.source.loader.pending == 0, timeout=10_000)
    qtbot.wait(100)
    assert page.table.horizontalScrollBar().maximum() == 0  # no sideways scrolling
    views = [f"tab{tab}" for tab in range(3)] + ["cell"]
    for tab, view in enumerate(views):
        if view == "cell":  # a matrix cell's images
            page.results.matrix.cell_clicked.emit(0, 1)
        else:
            page.results.tabs.setCurrentIndex(tab)
        qtbot.wait(50)
        page.grab().save(str(artifacts_dir / f"{name}_{view}.png"))
        for label in page.findChildren(QLabel):
            if label.isVisible() and label.text() and not label.wordWrap():
                assert label.width() >= label.sizeHint().width(), f"clipped: {label.text()!r}"
            if label.isVisible() and label.wordWrap():
                assert label.height() >= label.heightForWidth(label.width()), f"cut off: {label.text()!r}"
    page.results.tabs.setCurrentIndex(0)
    host.addWidget(page)  # back in the window, which shuts it down
    host.setCurrentWidget(page)
    if size == main_window.size():
        qtbot.wait(100)
        main_window.grab().save(str(artifacts_dir / f"predict_window_{size.width()}x{size.height()}.png"))
