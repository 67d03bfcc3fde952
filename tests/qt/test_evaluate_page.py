"""The Evaluate page on a real tiny trained model: what it draws equals what the
engine (and scikit-learn) compute, clicks open the right images, reports save."""
from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from sklearn.metrics import precision_recall_fscore_support

from tlstudio.qt.pages.evaluate_page import EvaluatePage
from tlstudio.qt.workers import EngineTask


@pytest.fixture(scope="module")
def reference(trained_run):
    """The engine's own interpretation of the validation split."""
    from tlstudio.core.delivery.interpret import interpret

    return interpret(trained_run.result.learn, trained_run.result.spec, split="valid")  # the weights the engine holds


def wait_evaluated(qtbot, page):
    qtbot.waitUntil(lambda: page.interpretation is not None and not page.slot.is_running(), timeout=60_000)


@pytest.fixture
def page(qtbot, state, trained_result):
    page = EvaluatePage(state)
    qtbot.addWidget(page)
    page.resize(1280, 820)
    page.show()
    state.set_training(trained_result)  # a new result starts the evaluation by itself
    wait_evaluated(qtbot, page)
    yield page
    page.shutdown()
    qtbot.waitUntil(lambda: not EngineTask.live_tasks(), timeout=30_000)


def test_matrix_cells_show_the_engine_confusion_matrix(page, reference):
    view = page.matrix
    assert view.classes == reference.classes
    n = len(reference.classes)
    shown = np.array([[int(view.cell_text(i, j)) for j in range(n)] for i in range(n)])
    np.testing.assert_array_equal(shown, reference.confusion)
    assert shown.sum() == len(reference.paths)
    page.normalize_box.setChecked(True)
    rows = reference.confusion / reference.confusion.sum(axis=1, keepdims=True)
    assert [view.cell_text(0, j) for j in range(n)] == [f"{v:.2f}" for v in rows[0]]


def test_clicking_a_cell_lists_exactly_its_images(qtbot, page, reference):
    n = len(reference.classes)
    for i in range(n):
        for j in range(n):
            qtbot.mouseClick(page.matrix, Qt.MouseButton.LeftButton, pos=page.matrix.cell_rect(i, j).center())
            expected = [p for p, a, b in zip(reference.paths, reference.y_true, reference.y_pred) if a == i and b == j]
            assert page.matrix.selected == (i, j)
            assert page.cell_gallery.paths() == expected, (i, j)
            assert page.cell_gallery.count() == reference.confusion[i, j]
    assert page.image_tabs.currentIndex() == 1
    i = int(np.argmax(reference.confusion.diagonal()))
    page.show_cell(i, i)
    first = page.cell_gallery.item(0)
    rect = page.cell_gallery.visualItemRect(first)  # double-click: a larger, non-blocking view
    qtbot.mouseClick(page.cell_gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(page.cell_gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    [viewer] = page.cell_gallery.viewers
    assert viewer.isVisible() and not viewer.isModal()
    assert viewer.windowTitle() == reference.paths[reference.items_in_cell(i, i)[0]].name
    viewer.close()


def test_most_confused_pairs_open_their_images(qtbot, page, reference):
    pairs = reference.most_confused()
    assert page.confused_list.count() == max(len(pairs), 1)
    if not pairs:
        return
    actual, predicted, count = pairs[0]
    item = page.confused_list.item(0)
    assert actual in item.text() and predicted in item.text()
    rect = page.confused_list.visualItemRect(item)
    qtbot.mouseClick(page.confused_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert page.cell_gallery.count() == count
    i, j = reference.classes.index(actual), reference.classes.index(predicted)
    assert page.matrix.selected == (i, j)


def test_top_losses_are_sorted_and_match_the_engine(page, reference):
    page.top_n.setValue(5)
    expected = reference.top_losses(5)
    assert page.top_losses.paths() == [r.path for r in expected]
    losses = [r.loss for r in expected]
    assert losses == sorted(losses, reverse=True)
    assert losses[0] == pytest.approx(float(reference.losses.max()))
    first = page.top_losses.entries[0]
    assert f"loss {expected[0].loss:.2f}" in first.caption
    assert f"p(actual) {expected[0].prob_actual:.2f}" in first.caption
    page.top_n.setValue(len(reference.paths))
    assert page.top_losses.count() == len(reference.paths)


def test_metrics_table_matches_scikit_learn(page):
    interp = page.interpretation
    labels = range(len(interp.classes))
    p, r, f, s = precision_recall_fscore_support(interp.y_true, interp.y_pred, labels=labels, zero_division=0)
    rows = {row.name: row for row in page.metrics_table.displayed_rows()}
    for k, name in enumerate(interp.classes):
        assert rows[name].precision == pytest.approx(p[k])
        assert rows[name].recall == pytest.approx(r[k])
        assert rows[name].f1 == pytest.approx(f[k])
        assert rows[name].support == s[k]
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = precision_recall_fscore_support(
            interp.y_true, interp.y_pred, labels=labels, average=avg, zero_division=0
        )
        row = rows[f"{avg} avg"]
        assert (row.precision, row.recall, row.f1) == pytest.approx((ap, ar, af))
    assert page.summary.text().startswith(f"Accuracy {np.mean(interp.y_true == interp.y_pred):.1%}")


def test_sorting_keeps_the_averages_at_the_bottom(page):
    table = page.metrics_table
    for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
        table.sortByColumn(3, order)
        rows = table.displayed_rows()
        assert [r.name for r in rows[-2:]] == ["macro avg", "weighted avg"]
        f1 = [r.f1 for r in rows[:-2]]
        assert f1 == sorted(f1, reverse=order == Qt.SortOrder.DescendingOrder)


def test_roc_curves_for_one_class_or_all(qtbot, page, reference):
    assert len(page.roc.shown_curves()) == len(reference.classes)
    assert len(page.roc.legend.items) == len(reference.classes)
    assert page.roc.macro_label.text() == f"Macro-average AUC {reference.macro_auc:.3f}"
    name = reference.classes[1]
    page.roc.show_class(name)
    [curve] = page.roc.shown_curves()
    assert curve.label == name and curve.auc == pytest.approx(reference.roc[1].auc)
    legend = [label.text for _, label in page.roc.legend.items]
    assert legend == [f"{name} (AUC {reference.roc[1].auc:.3f})"]
    # Clicking a class in the metrics table picks its curve; an average row shows them all.
    table = page.metrics_table
    rows = table.displayed_rows()
    for r, row in enumerate(rows):
        if row.name == reference.classes[2] or row.pinned:
            qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(table.model().index(r, 0)).center())
            expected = reference.classes[2:3] if not row.pinned else reference.classes
            assert [c.label for c in page.roc.shown_curves()] == expected
            assert page.chart_tabs.currentWidget() is page.roc  # the curve is shown, not only chosen


def test_roc_classes_get_colours_and_dashes_told_apart():
    from tlstudio.qt.widgets.roc_plot import curve_pen

    pens = [curve_pen(i) for i in range(40)]
    looks = {(p.color().name(), p.style()) for p in pens}
    assert len(looks) == 40  # forty classes, forty different lines
    assert len({p.color().name() for p in pens[:10]}) == 10


def test_captions_say_the_same_in_top_losses_and_the_selected_cell(page, reference):
    i = j = None
    for a in range(len(reference.classes)):
        for b in range(len(reference.classes)):
            if reference.confusion[a, b]:
                i, j = a, b
    page.show_cell(i, j)
    k = int(reference.items_in_cell(i, j)[0])
    cell = page.cell_gallery.entries[0].caption
    p_actual = reference.probs[k, int(reference.y_true[k])]
    assert cell == f"{reference.classes[i]} → {reference.classes[j]}\nloss {reference.losses[k]:.2f}\np(actual) {p_actual:.2f}"
    top = page.top_losses.entries[0].caption
    rec = reference.top_losses(1)[0]
    assert top == f"{rec.actual} → {rec.predicted}\nloss {rec.loss:.2f}\np(actual) {rec.prob_actual:.2f}"
    assert "p(" + reference.classes[j] not in cell  # p(actual) in both, never p(<a class name>) in one


def test_the_per_class_table_does_not_scroll_at_the_default_size(qtbot, page):
    page.resize(1200 - 180, 800 - 60)  # what the main window's default size leaves for a page
    qtbot.wait(50)
    table = page.metrics_table
    assert not table.verticalScrollBar().isVisible()
    assert table.viewport().height() >= table.model().rowCount() * table.rowHeight(0)
    assert page.roc.width() >= page.width() * 0.4  # the ROC tab has half the page, not a corner


def test_save_report_writes_csv_and_pngs(page, reference, tmp_path):
    written = page.save_report(tmp_path / "report")
    names = {p.name for p in written}
    assert {"metrics.csv", "confusion_matrix.png", "roc.png"} <= names
    with (tmp_path / "report" / "metrics.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["class", "precision", "recall", "f1", "support"]
    assert [r[0] for r in rows[1:]] == [*reference.classes, "macro avg", "weighted avg", "accuracy"]
    k = 1
    assert float(rows[1 + k][1]) == pytest.approx(reference.scores.precision[k], abs=1e-6)
    assert int(rows[1 + k][4]) == reference.scores.support[k]
    assert float(rows[-1][3]) == pytest.approx(reference.accuracy, abs=1e-6)
    for png in ("confusion_matrix.png", "roc.png"):
        image = QImage(str(tmp_path / "report" / png))
        assert not image.isNull() and image.width() >= 400, png


def test_test_split_is_offered_only_when_the_dataset_has_one(qtbot, page, trained_result):
    assert not page.split_combo.isEnabled()
    spec = trained_result.spec
    valid = spec.indices("valid")
    with_test = dataclasses.replace(
        spec,
        items=spec.items + [spec.items[i] for i in valid[:5]],
        labels=spec.labels + [spec.labels[i] for i in valid[:5]],
        splits=spec.splits + ["test"] * 5,
    )
    page.state.set_training(dataclasses.replace(trained_result, spec=with_test))
    wait_evaluated(qtbot, page)
    assert page.split_combo.isEnabled() and page.split_combo.count() == 2
    page.split_combo.setCurrentIndex(page.split_combo.findData("test"))  # re-evaluates by itself
    wait_evaluated(qtbot, page)
    assert page.interpretation.split == "test"
    assert len(page.interpretation.paths) == 5
    assert "5 test images" in page.summary.text()


def test_cancel_stops_the_evaluation_and_clears_the_page(qtbot, page, monkeypatch):
    import time

    from tlstudio.core.delivery import interpret as engine

    real = engine.interpret

    def interpret_after_cancel(learn, spec, split="valid", reporter=None):
        deadline = time.monotonic() + 20
        while not reporter.cancel_requested() and time.monotonic() < deadline:
            time.sleep(0.01)
        return real(learn, spec, split=split, reporter=reporter)  # the engine sees the request and stops

    monkeypatch.setattr(engine, "interpret", interpret_after_cancel)
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert page.cancel_button.isVisible() and not page.run_button.isEnabled()
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.summary.text() == "Evaluation cancelled" and not page.slot.is_running(), timeout=30_000)
    assert page.interpretation is None and page.matrix.classes == []
    assert page.run_button.isEnabled() and not page.cancel_button.isVisible()


def test_a_failed_evaluation_says_why_and_a_cleared_model_clears_the_page(qtbot, page, trained_result):
    spec = trained_result.spec
    broken = dataclasses.replace(spec, items=[], labels=[], splits=[])  # nothing to evaluate on
    page.state.set_training(dataclasses.replace(trained_result, spec=broken))
    page.split_combo.addItem("Test", "test")  # as if the dataset had a test split, which it has not
    page.split_combo.setCurrentIndex(1)
    qtbot.waitUntil(lambda: page.error_label.isVisible(), timeout=30_000)
    assert page.summary.text() == "Evaluation failed" and "test" in page.error_label.text()
    assert page.run_button.isEnabled() and not page.cancel_button.isVisible()
    page.state.set_training(None)
    assert page.interpretation is None and page.matrix.classes == [] and not page.error_label.isVisible()
    assert page.run_button.isEnabled() and not page.progress.isVisible()


def test_screenshot(qtbot, page, artifacts_dir):
    page.matrix.selected = None
    page.show_cell(0, 0)
    page.image_tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: page.top_losses.thumbnails_pending() == 0, timeout=5000)
    page.grab().save(str(artifacts_dir / "evaluate_page.png"))


@pytest.mark.parametrize("n", [2, 50])
def test_matrix_is_usable_from_2_to_50_classes(qtbot, n, artifacts_dir):
    from tlstudio.qt.widgets.confusion_matrix_view import ConfusionMatrixView

    rng = np.random.default_rng(n)
    classes = [f"class {k} with a rather long descriptive name" if k % 7 == 3 else f"c{k}" for k in range(n)]
    counts = rng.integers(0, 4, size=(n, n)) + np.eye(n, dtype=int) * 20
    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.resize(620, 560)
    view.show()
    view.set_matrix(classes, counts)
    for i in range(n):
        for j in (0, n // 2, n - 1):
            rect = view.cell_rect(i, j)
            assert rect.width() >= 6 and view.rect().contains(rect)
            assert view.cell_at(rect.center()) == (i, j)
    with qtbot.waitSignal(view.cell_clicked) as clicked:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.cell_rect(n - 1, 0).center())
    assert clicked.args == [n - 1, 0]
    assert classes[-1] in view.tooltip_for(n - 1, 0) and f"{counts[n - 1, 0]} of {counts[n - 1].sum()}" in view.tooltip_for(n - 1, 0)
    view.grab().save(str(artifacts_dir / f"confusion_matrix_{n}_classes.png"))
    assert not view.render_image().isNull()
