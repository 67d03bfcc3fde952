"""Class imbalance and tiny classes, from the labels alone."""
from __future__ import annotations

from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.doctor.findings import Finding

IMBALANCE_RATIO = 3.0  # largest class over this many times a class's size
TINY_CLASS = 10  # fewer images than this in a class is too few to learn and to validate


def imbalance(spec: DatasetSpec) -> list[Finding]:
    """One finding per class that is tiny or far smaller than the largest;
    the score is how many times smaller than the largest it is."""
    counts = spec.class_counts()
    if not counts:
        return []
    largest = max(counts.values())
    found = []
    for cls, n in counts.items():
        ratio = largest / max(n, 1)
        problems = []
        if n < TINY_CLASS:
            problems.append(f"only {n} image{'s' if n != 1 else ''}")
        if ratio >= IMBALANCE_RATIO:
            problems.append(f"{ratio:.1f}x fewer than the largest class ({largest})")
        if problems:
            files = tuple(p for p, label in zip(spec.items, spec.labels) if label == cls)
            found.append(Finding("imbalance", files, ratio, f"Class '{cls}': " + "; ".join(problems)))
    return found
