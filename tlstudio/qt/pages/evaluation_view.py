"""What the Evaluate page shows, read from an Interpretation: gallery
entries, metrics rows, ROC curves, and the report files written to disk."""
from __future__ import annotations

import csv
from pathlib import Path

from tlstudio.qt.widgets.image_results_gallery import GalleryEntry
from tlstudio.qt.widgets.metrics_table import MetricsRow


def caption(actual: str, predicted: str, loss: float, p_actual: float) -> str:
    """One caption for every image the page lists: what it is and what the
    model said, its loss, and the probability the model gave its actual class."""
    return f"{actual} → {predicted}\nloss {loss:.2f}\np(actual) {p_actual:.2f}"


def _tooltip(path, actual: str, predicted: str, p_actual: float, p_pred: float, loss: float) -> str:
    return f"{path}\nActual: {actual} (p={p_actual:.3f})\nPredicted: {predicted} (p={p_pred:.3f})\nLoss: {loss:.3f}"


def _entry(interp, index: int) -> GalleryEntry:
    actual = interp.classes[int(interp.y_true[index])]
    predicted = interp.classes[int(interp.y_pred[index])]
    p_pred = float(interp.probs[index, int(interp.y_pred[index])])
    p_actual = float(interp.probs[index, int(interp.y_true[index])])
    loss = float(interp.losses[index])
    path = Path(interp.paths[index])
    return GalleryEntry(
        path, caption(actual, predicted, loss, p_actual), _tooltip(path, actual, predicted, p_actual, p_pred, loss),
        warn=actual != predicted,
    )


def cell_entries(interp, i: int, j: int) -> list[GalleryEntry]:
    """The images whose actual class is i and predicted class is j."""
    return [_entry(interp, int(k)) for k in interp.items_in_cell(i, j)]


def top_loss_entries(interp, k: int) -> list[GalleryEntry]:
    return [
        GalleryEntry(
            Path(rec.path), caption(rec.actual, rec.predicted, rec.loss, rec.prob_actual),
            _tooltip(rec.path, rec.actual, rec.predicted, rec.prob_actual, rec.prob_predicted, rec.loss),
            warn=rec.actual != rec.predicted,
        )
        for rec in interp.top_losses(k)
    ]


def metrics_rows(interp) -> list[MetricsRow]:
    """One row per class, then the macro and weighted averages over all images."""
    s = interp.scores
    rows = [
        MetricsRow(name, float(p), float(r), float(f), int(n))
        for name, p, r, f, n in zip(interp.classes, s.precision, s.recall, s.f1, s.support)
    ]
    total = int(sum(s.support))
    for name, avg in (("macro avg", s.macro), ("weighted avg", s.weighted)):
        rows.append(MetricsRow(name, avg["precision"], avg["recall"], avg["f1"], total, pinned=True))
    return rows


def write_report(folder: Path, interp, matrix_view, roc_plot) -> list[Path]:
    """metrics.csv, confusion_matrix.csv, confusion_matrix.png and roc.png in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    metrics_csv = folder / "metrics.csv"
    with metrics_csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["class", "precision", "recall", "f1", "support"])
        for row in metrics_rows(interp):
            writer.writerow([row.name, f"{row.precision:.6f}", f"{row.recall:.6f}", f"{row.f1:.6f}", row.support])
        writer.writerow(["accuracy", "", "", f"{float(interp.accuracy):.6f}", len(interp.paths)])
    matrix_csv = folder / "confusion_matrix.csv"
    with matrix_csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["actual \\ predicted", *interp.classes])
        for name, counts in zip(interp.classes, interp.confusion):
            writer.writerow([name, *(int(c) for c in counts)])
    matrix_png = folder / "confusion_matrix.png"
    if not matrix_view.render_image().save(str(matrix_png)):
        raise OSError(f"could not write {matrix_png}")
    roc_png = folder / "roc.png"
    roc_plot.save_png(roc_png)
    return [metrics_csv, matrix_csv, matrix_png, roc_png]
