"""The Export page on a real tiny trained model: export + verify off the GUI
thread, the sidecar shown, and images dropped on the page predicted by the file."""
from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tlstudio.qt.main_window import SIDEBAR_WIDTH
from tlstudio.qt.pages.export_page import ExportPage
from tlstudio.qt.workers import EngineTask

PAGE_WIDTH_AT_1024 = 1024 - SIDEBAR_WIDTH


@pytest.fixture
def page(qtbot, state, trained_result):
    page = ExportPage(state)
    qtbot.addWidget(page)
    page.resize(1200, 760)
    page.show()
    state.set_training(trained_result)
    yield page
    page.shutdown()
    qtbot.waitUntil(lambda: not EngineTask.live_tasks(), timeout=30_000)


def drop(widget, paths) -> tuple[bool, bool]:
    """Drags local files onto `widget` and drops them: (enter accepted, drop accepted)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    where = widget.rect().center()
    enter = QDragEnterEvent(where, Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False, False
    event = QDropEvent(QPointF(where), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return True, event.isAccepted()


def choose(page, fmt: str, path) -> None:
    page.format_combo.setCurrentIndex(page.format_combo.findData(fmt))
    page.path_edit.setText(str(path))


def test_export_verifies_and_predicts_dropped_images(qtbot, page, trained_result, tmp_path, artifacts_dir, monkeypatch):
    spec = trained_result.spec
    image = spec.items[spec.indices("valid")[0]]
    assert drop(page.try_panel.drop_zone, [image]) == (True, True)  # taken, so the window won't open it as a dataset
    assert page.try_panel.status.text().startswith("Export the model (or open a model file) first")
    assert page.try_panel.predictions.topLevelItemCount() == 0 and not page.try_panel.pick_button.isEnabled()
    assert [page.format_combo.itemData(i) for i in range(page.format_combo.count())] == ["tlsmodel", "pkl", "onnx", "torchscript"]
    target = tmp_path / "models" / "tiny.tlsmodel"
    choose(page, "tlsmodel", target)
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    assert page.export_slot.is_running()  # off the GUI thread
    qtbot.waitUntil(lambda: page.report is not None, timeout=120_000)

    report = page.report
    assert target.is_file() and report.sidecar == target.with_name("tiny.tlsmodel.json") and report.sidecar.is_file()
    assert report.verified and report.n_checked == len(trained_result.spec.indices("valid"))
    assert page.export_status.text().startswith("Exported and verified")
    row = [page.figures.topLevelItem(0).text(c) for c in range(page.figures.columnCount())]
    assert row[:2] == ["tlsmodel", "✔ verified"] and row[3] == str(report.n_checked) and row[4] == "identical"
    assert row[6] == "1e-05" and row[7] == target.name and page.figures.topLevelItem(0).toolTip(7) == str(target)
    sidecar = json.loads(report.sidecar.read_text())
    tree = {page.sidecar_tree.topLevelItem(i).text(0): page.sidecar_tree.topLevelItem(i) for i in range(page.sidecar_tree.topLevelItemCount())}
    assert tree["classes"].text(1) == ", ".join(sidecar["classes"])
    assert tree["architecture"].text(1) == trained_result.config.arch
    assert tree["dataset"].childCount() == len(sidecar["dataset"])
    assert tree["sha256"].text(1) == sidecar["sha256"]
    fingerprint = tree["dataset"].text(1)
    assert sidecar["dataset"]["fingerprint"] in fingerprint
    # Every value in full inside the page's width: long ones wrap in their row, nothing scrolls sideways.
    page.resize(PAGE_WIDTH_AT_1024, 640)
    qtbot.wait(50)
    figures = page.figures.topLevelItem(0)
    for view, items, columns in ((page.sidecar_tree, tree.values(), (1,)), (page.figures, [figures], (2, 7))):
        for item in items:
            for column in columns:
                wrap = view.itemDelegateForColumn(column)
                qtbot.waitUntil(lambda: view.visualItemRect(item).height() >= wrap.wrapped_height(item.text(column), column),
                                timeout=2_000)
        assert not view.horizontalScrollBar().isVisible()
        last = view.columnCount() - 1
        assert view.header().sectionPosition(last) + view.columnWidth(last) <= view.viewport().width()
    assert page.sidecar_tree.visualItemRect(tree["dataset"]).height() > page.sidecar_tree.fontMetrics().height() * 1.5
    # After an export (long paths, a long status line) the page still fits beside the sidebar of a 1024 px window.
    assert page.sidecar_label.text() == str(report.sidecar)
    assert page.minimumSizeHint().width() <= PAGE_WIDTH_AT_1024

    # Exporting over the same file asks first; "no" leaves it as it was.
    first, before = report, target.read_bytes()
    asked = []
    monkeypatch.setattr(page, "confirm_replace", lambda path: asked.append(path) or False)
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    assert asked == [target] and not page.export_slot.is_running() and page.report is first
    assert "was kept as it is" in page.export_status.text() and target.read_bytes() == before
    monkeypatch.setattr(page, "confirm_replace", lambda path: asked.append(path) or True)
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.report is not None and page.report is not first, timeout=120_000)
    assert len(asked) == 2 and page.report.verified

    # A second format: its own row of figures beside the first.
    page.format_combo.setCurrentIndex(page.format_combo.findData("onnx"))
    assert page.path_edit.text() == str(tmp_path / "models" / "tiny.onnx")
    onnx_before = page.report
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.report is not onnx_before, timeout=120_000)
    assert page.report.format == "onnx" and page.report.verified
    assert (tmp_path / "models" / "predict.py").is_file()
    rows = {page.figures.topLevelItem(i).text(0): page.figures.topLevelItem(i) for i in range(page.figures.topLevelItemCount())}
    assert set(rows) == {"tlsmodel", "onnx"} and rows["onnx"].text(1) == "✔ verified" and rows["onnx"].text(6) == "1e-04"
    assert "onnxruntime" in rows["onnx"].text(2)

    opened = []
    monkeypatch.setattr("tlstudio.qt.pages.export_page.QDesktopServices.openUrl", lambda url: opened.append(url) or True)
    qtbot.mouseClick(page.open_folder_button, Qt.MouseButton.LeftButton)
    assert [u.toLocalFile() for u in opened] == [str(tmp_path / "models")]

    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    assert drop(page.try_panel.drop_zone, [image, corrupt]) == (True, True)
    # While it predicts (its progress bar shown) the page still fits beside the sidebar at 1024 px.
    assert page.try_panel.progress.isVisibleTo(page) and page.minimumSizeHint().width() <= PAGE_WIDTH_AT_1024
    page.grab().save(str(artifacts_dir / "export-page-predicting.png"))
    qtbot.waitUntil(lambda: page.try_panel.predictions.topLevelItemCount() == 2 and not page.try_panel.slot.is_running(), timeout=60_000)
    (name, prediction, top3), (bad_name, bad_prediction, error) = page.try_panel.predictions.rows()
    assert name == image.name
    label = prediction.split()[0]
    assert label in spec.classes and prediction.endswith("%")
    assert top3.split()[0] == label and len(top3.split()) == 6  # three "label NN%" pairs
    assert bad_name == "broken.png" and bad_prediction == "Error" and "cannot read image" in error
    assert "1 could not be read" in page.try_panel.status.text()
    predictions = page.try_panel.predictions
    # Every prediction in full inside the panel at 1024 px: long names and the top 3 wrap in their
    # row (the thumbnail beside the name), nothing scrolls sideways.
    page.resize(PAGE_WIDTH_AT_1024, 640)
    qtbot.wait(50)
    for r in range(predictions.topLevelItemCount()):
        item = predictions.topLevelItem(r)
        for column in range(3):
            qtbot.waitUntil(lambda: predictions.visualItemRect(item).height() >= predictions.wrap.wrapped_height(
                item.text(column), column, icon=column == 0), timeout=2_000)
    assert len(top3.splitlines()) == 3  # a "label NN%" pair a line
    qtbot.waitUntil(lambda: predictions.columnWidth(2) >= max(map(predictions.fontMetrics().horizontalAdvance,
                                                                  top3.splitlines())), timeout=2_000)  # never broken
    assert not predictions.horizontalScrollBar().isVisible()
    assert predictions.header().sectionPosition(2) + predictions.columnWidth(2) <= predictions.viewport().width()

    # A second drop reuses the loaded model and appends.
    copy = tmp_path / "copy.png"
    shutil.copyfile(image, copy)
    assert drop(page.try_panel.drop_zone, [copy]) == (True, True)
    qtbot.waitUntil(lambda: page.try_panel.predictions.topLevelItemCount() == 3 and not page.try_panel.slot.is_running(), timeout=60_000)
    assert page.try_panel.predictions.rows()[2][1] == prediction
    page.grab().save(str(artifacts_dir / "export_page.png"))
    # A model file named as the app names them (dataset-arch) still leaves the page narrow enough.
    page.try_panel.use_model_file(target.with_name("fashion-demo-mobilenet_v2.tlsmodel"))
    assert page.minimumSizeHint().width() <= PAGE_WIDTH_AT_1024

    # A retrain (a new result on the same dataset) clears the figures and the verified line.
    state = page.state
    state.set_training(trained_result)
    assert page.figures.topLevelItemCount() == 0 and page.report is None
    assert not page.export_status.text().startswith("Exported")


def test_the_default_path_follows_the_dataset(qtbot, state, tmp_path, monkeypatch, demo_dir):
    from types import SimpleNamespace

    from tlstudio.core.config import TrainConfig
    from tlstudio.qt.pages.export_page import models_home

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    page = ExportPage(state)
    qtbot.addWidget(page)
    first, second = tmp_path / "flowers", tmp_path / "birds"
    for root in (first, second):
        root.mkdir()
    config = TrainConfig(arch="resnet18")
    state.set_training(SimpleNamespace(spec=SimpleNamespace(root=first), config=config, learn=None))
    assert page.path_edit.text() == str(tmp_path / "flowers-resnet18.tlsmodel")
    state.set_training(SimpleNamespace(spec=SimpleNamespace(root=second), config=config, learn=None))
    assert page.path_edit.text() == str(tmp_path / "birds-resnet18.tlsmodel"), "never the first dataset's path"
    page.format_combo.setCurrentIndex(page.format_combo.findData("torchscript"))
    assert page.path_edit.text() == str(tmp_path / "birds-resnet18.pt")
    # The demo lives in the app's own files: its model goes to the user's models folder.
    state.set_training(SimpleNamespace(spec=SimpleNamespace(root=demo_dir), config=config, learn=None))
    assert page.path_edit.text() == str(models_home() / "demo-resnet18.pt")
    assert models_home() == tmp_path / "home" / "TL Studio models"


def test_drop_zone_takes_only_images(qtbot, tmp_path):
    from tlstudio.qt.widgets.image_drop_zone import ImageDropZone

    zone = ImageDropZone()
    qtbot.addWidget(zone)
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    with qtbot.assertNotEmitted(zone.files_dropped):
        assert drop(zone, [notes]) == (False, False)  # left to the window (it opens datasets)
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ("b.png", "a.jpg", "skip.txt"):
        (folder / name).write_bytes(b"x")
    with qtbot.waitSignal(zone.files_dropped) as got:
        assert drop(zone, [folder]) == (True, True)
    assert [p.name for p in got.args[0]] == ["a.jpg", "b.png"]


def test_export_to_an_impossible_path_says_why_and_offers_another(qtbot, page, tmp_path, artifacts_dir):
    from tlstudio.core.delivery.target import models_folder

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    choose(page, "tlsmodel", blocker / "model.tlsmodel")  # its folder is a file
    page.export()
    qtbot.waitUntil(lambda: page.export_status.text().startswith("Not exported:"), timeout=30_000)
    assert "a-file is not a folder" in page.export_status.text() and "The model is still here" in page.export_status.text()
    assert page.report is None and not page.try_panel.pick_button.isEnabled()
    assert page.state.training is not None, "the model stays in memory"
    assert page.use_suggestion_button.isVisibleTo(page)
    page.grab().save(str(artifacts_dir / "export_page_target_error.png"))
    qtbot.mouseClick(page.use_suggestion_button, Qt.MouseButton.LeftButton)
    assert page.path_edit.text() == str(models_folder() / "model.tlsmodel")


def test_export_waits_while_the_evaluate_page_uses_the_model(qtbot, state, trained_result, tmp_path):
    from tlstudio.qt.pages.evaluate_page import EvaluatePage

    evaluate, export = EvaluatePage(state), ExportPage(state)
    qtbot.addWidget(evaluate)
    qtbot.addWidget(export)
    state.set_training(trained_result)  # starts the evaluation
    assert evaluate.slot.is_running()
    export.format_combo.setCurrentIndex(export.format_combo.findData("pkl"))
    export.path_edit.setText(str(tmp_path / "m.pkl"))
    export.export()  # same learner: runs once the evaluation lets go of it
    qtbot.waitUntil(lambda: export.report is not None and evaluate.interpretation is not None, timeout=120_000)
    assert export.report.verified
    assert evaluate.interpretation.confusion.sum() == len(trained_result.spec.indices("valid"))
    qtbot.waitUntil(lambda: not EngineTask.live_tasks(), timeout=30_000)


def test_a_model_file_from_another_machine_loads_only_when_trusted(qtbot, trained_run, tmp_path, monkeypatch, engine_env):
    from tlstudio.core.delivery.export import export_model
    from tlstudio.qt.widgets.model_try_panel import ModelTryPanel

    spec = trained_run.result.spec
    exported = export_model(trained_run.result.learn, tmp_path / "m.pkl", spec=spec, config=trained_run.result.config, verify=False)
    foreign = tmp_path / "elsewhere" / "m.pkl"
    foreign.parent.mkdir()
    shutil.copyfile(exported.path, foreign)
    # Opened on another machine: this one's record of its own exports is not there.
    engine_env("TLSTUDIO_DATA_DIR", tmp_path / "another-machine")
    panel = ModelTryPanel()
    qtbot.addWidget(panel)
    questions = []
    monkeypatch.setattr(panel, "confirm_trust", lambda message: questions.append(message) or False)
    panel.open_model_file(foreign)
    qtbot.waitUntil(lambda: panel.status.text().startswith("Not loaded"), timeout=30_000)
    assert len(questions) == 1 and "not exported by TL Studio on this machine" in questions[0]
    assert panel.model is None and panel.model_path is None

    monkeypatch.setattr(panel, "confirm_trust", lambda message: True)
    panel.open_model_file(foreign)
    qtbot.waitUntil(lambda: panel.model is not None, timeout=30_000)
    assert panel.model_path == foreign and panel.model.classes == spec.classes
    assert "m.pkl" in panel.model_label.text() and panel.model.format == "pkl"
    image = spec.items[spec.indices("valid")[0]]
    panel.predict([image])
    qtbot.waitUntil(lambda: panel.predictions.topLevelItemCount() == 1, timeout=30_000)
    assert panel.predictions.rows()[0][1].split()[0] in spec.classes
    qtbot.waitUntil(lambda: not EngineTask.live_tasks(), timeout=30_000)
