"""Interpretation numbers agree with a direct computation and with fastai's own."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tlstudio.core.dataset.spec import DatasetError
from tlstudio.core.delivery.interpret import interpret
from tlstudio.core.events import Cancelled, ListReporter, Progress


@pytest.fixture(scope="module")
def interp(trained_result, tiny_spec):
    reporter = ListReporter()
    result = interpret(trained_result.learn, tiny_spec, "valid", reporter)
    result.progress = reporter.of_type(Progress)
    return result


@pytest.fixture(scope="module")
def fastai_interp(trained_result):
    from fastai.interpret import ClassificationInterpretation

    return ClassificationInterpretation.from_learner(trained_result.learn)


def test_items_and_labels_are_the_validation_split(interp, tiny_spec):
    valid = tiny_spec.indices("valid")
    assert interp.classes == tiny_spec.classes
    assert interp.paths == [Path(tiny_spec.items[i]) for i in valid]
    assert [interp.classes[k] for k in interp.y_true] == [tiny_spec.labels[i] for i in valid]
    n, c = len(valid), len(tiny_spec.classes)
    assert interp.probs.shape == (n, c) and interp.losses.shape == (n,)
    np.testing.assert_allclose(interp.probs.sum(1), 1, atol=1e-5)
    np.testing.assert_array_equal(interp.y_pred, interp.probs.argmax(1))
    # Cross-entropy of each item is -log p(actual).
    np.testing.assert_allclose(interp.losses, -np.log(interp.probs[np.arange(n), interp.y_true]), rtol=1e-4, atol=1e-5)
    assert interp.progress and interp.progress[-1].done == interp.progress[-1].total


def test_confusion_and_most_confused_match_numpy_and_fastai(interp, fastai_interp):
    c = len(interp.classes)
    direct = np.array([[np.sum((interp.y_true == i) & (interp.y_pred == j)) for j in range(c)] for i in range(c)])
    np.testing.assert_array_equal(interp.confusion, direct)
    np.testing.assert_array_equal(interp.confusion, fastai_interp.confusion_matrix())
    theirs = [(a, p, int(n)) for a, p, n in fastai_interp.most_confused(min_val=1)]
    assert interp.most_confused() == theirs
    assert all(n >= 2 for _, _, n in interp.most_confused(min_count=2))


def test_per_class_scores_and_accuracy_match_numpy(interp):
    cm = interp.confusion.astype(float)
    tp, support, predicted = np.diag(cm), cm.sum(1), cm.sum(0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=precision + recall > 0)
    s = interp.scores
    np.testing.assert_allclose(s.precision, precision)
    np.testing.assert_allclose(s.recall, recall)
    np.testing.assert_allclose(s.f1, f1)
    np.testing.assert_array_equal(s.support, support)
    assert s.macro["f1"] == pytest.approx(f1.mean())
    assert s.weighted["recall"] == pytest.approx((recall * support).sum() / support.sum())
    assert interp.accuracy == pytest.approx(tp.sum() / cm.sum())
    assert "macro avg" in interp.report_text()


def test_roc_auc_matches_rank_statistic(interp):
    for k, curve in enumerate(interp.roc):
        pos = interp.probs[interp.y_true == k, k]
        neg = interp.probs[interp.y_true != k, k]
        # AUC = P(score of a positive > score of a negative), ties count half.
        auc = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
        assert curve.label == interp.classes[k]
        assert curve.auc == pytest.approx(auc)
        assert curve.fpr[0] == 0 and curve.tpr[-1] == 1 and np.all(np.diff(curve.fpr) >= 0)
    assert interp.macro_auc == pytest.approx(np.mean([c.auc for c in interp.roc]))


def test_top_losses_are_sorted_and_match_fastai(interp, fastai_interp):
    top = interp.top_losses()
    assert [t.loss for t in top] == sorted((t.loss for t in top), reverse=True)
    assert sorted(t.index for t in top) == list(range(len(interp)))
    values, _ = fastai_interp.top_losses(5)
    np.testing.assert_allclose([t.loss for t in interp.top_losses(5)], values.numpy(), rtol=1e-5)
    first = top[0]
    assert first.path == interp.paths[first.index]
    assert first.actual == interp.classes[interp.y_true[first.index]]
    assert first.predicted == interp.classes[interp.y_pred[first.index]]
    assert first.prob_actual == pytest.approx(interp.probs[first.index, interp.y_true[first.index]])
    assert first.prob_predicted == pytest.approx(interp.probs[first.index].max())


def test_items_in_cell_are_exact(interp):
    c = len(interp.classes)
    seen = []
    for i in range(c):
        for j in range(c):
            cell = interp.items_in_cell(i, j)
            assert cell == [k for k in range(len(interp)) if interp.y_true[k] == i and interp.y_pred[k] == j]
            assert len(cell) == interp.confusion[i, j]
            seen += cell
    assert sorted(seen) == list(range(len(interp)))


def test_test_split_uses_the_test_items(interp, trained_result, tiny_spec):
    # The same images marked "test": the test path must give the same numbers.
    as_test = dataclasses.replace(tiny_spec, splits=["test" if s == "valid" else s for s in tiny_spec.splits])
    result = interpret(trained_result.learn, as_test, "test")
    assert result.split == "test" and result.paths == interp.paths
    np.testing.assert_array_equal(result.confusion, interp.confusion)
    np.testing.assert_allclose(result.probs, interp.probs, atol=1e-5)
    with pytest.raises(DatasetError, match="no 'test' split"):
        interpret(trained_result.learn, tiny_spec, "test")


def test_cancel_stops_after_the_current_batch(trained_result, tiny_spec):
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, Progress))
    with pytest.raises(Cancelled):
        interpret(trained_result.learn, tiny_spec, "valid", reporter)
    assert len(reporter.of_type(Progress)) == 1


def test_a_loaded_export_is_measured_on_the_specs_validation_items(interp, trained_result, tiny_spec, tmp_path):
    from tlstudio.core.delivery.export import export_model, load_model

    export_model(trained_result.learn, tmp_path / "m.pkl", spec=tiny_spec, config=trained_result.config, verify=False)
    loaded = load_model(tmp_path / "m.pkl")
    assert len(loaded.learn.dls.valid_ds) == 0  # an export keeps no data
    result = interpret(loaded.learn, tiny_spec, "valid")
    assert result.paths == interp.paths
    np.testing.assert_array_equal(result.confusion, interp.confusion)
    np.testing.assert_allclose(result.probs, interp.probs, atol=1e-5)
