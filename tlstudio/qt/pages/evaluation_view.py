"""What the Evaluate page shows, read from an Interpretation: gallery
entries, metrics rows, ROC curves, and the report files written to disk."""
from __future__ import annotations

import csv
from pathlib import Path

from tlstudio.qt.widgets.image_results_gallery import GalleryEntry
from tlstudio.qt.widgets.metrics_table import MetricsRow


def _entry(interp, index: int) -> GalleryEntry:
    actual = interp.classes[int(interp.y_true[index])]
    predicted = interp.classes[int(interp.y_pred[index])]
    p_pred = float(interp.probs[index, int(interp.y_pred[index])])
    p_actual = float(interp.probs[index, int(interp.y_true[index])])
    path = Path(interp.paths[index])
    caption = f"{actual} → {predicted}\np({predicted}) {p_pred:.2f}"
    tooltip = (
        f"{path}\nActual: {actual} (p={p_actual:.3f})\nPredicted: {predicted} (p={p_pred:.3f})\n"
        f"Loss: {float(interp.losses[index]):.3f}"
    )
    return GalleryEntry(path, caption, tooltip, warn=actual != predicted)


def cell_entries(interp, i: int, j: int) -> list[GalleryEntry]:
    """The images whose actual class is i and predicted class is j."""
    return [_entry(interp, int(k)) for k in interp.items_in_cell(i, j)]


def top_loss_entries(interp, k: int) -> list[GalleryEntry]:
    entries = []
    for rec in interp.top_losses(k):
        caption = f"{rec.actual} → {rec.predicted}\nloss {rec.loss:.2f}\np(actual) {rec.prob_actual:.2f}"
        tooltip = (
            f"{rec.path}\nActual: {rec.actual} (p={rec.prob_actual:.3f})\n"
            f"Predicted: {rec.predicted} (p={rec.prob_predicted:.3f})\nLoss: {rec.loss:.3f}"
        )
        entries.append(GalleryEntry(Path(rec.path), caption, tooltip, warn=rec.actual != rec.predicted))
    return entries


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
