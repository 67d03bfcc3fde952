"""What the doctor reports: plain findings, the partial-findings event, the report."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# In the order the report lists them.
KINDS = (
    "exact_duplicate",
    "near_duplicate",
    "leak",
    "conflicting_label",
    "label_issue",
    "imbalance",
    "outlier",
)

TITLES = {
    "exact_duplicate": "Exact duplicates",
    "near_duplicate": "Near duplicates",
    "leak": "Leaks between splits",
    "conflicting_label": "Conflicting labels",
    "label_issue": "Likely label errors",
    "imbalance": "Class imbalance",
    "outlier": "Outliers",
}


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    files: tuple[Path, ...]  # absolute paths; for a duplicate set, all its members
    score: float  # higher is more likely (or more severe) within a kind
    detail: str  # one human sentence
    suggested_label: str | None = None  # label issues: the class the images look like

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "files": [str(f) for f in self.files],
            "score": round(float(self.score), 6),
            "suggested_label": self.suggested_label,
            "detail": self.detail,
        }


def ranked(findings: list[Finding]) -> list[Finding]:
    """Grouped by kind in KINDS order, most likely first within a kind."""
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(findings, key=lambda f: (order[f.kind], -f.score, [str(p) for p in f.files]))


@dataclass(frozen=True)
class DoctorFindings:
    """Event: the findings so far. `final` is False for those of the quick pixel
    pass, emitted before the slower feature pass starts."""

    findings: tuple[Finding, ...]
    final: bool


@dataclass
class DoctorReport:
    root: Path
    n_images: int
    findings: list[Finding] = field(default_factory=list)
    status: str = "completed"  # "completed" | "cancelled" (findings of the passes that finished)
    passes: tuple[str, ...] = ()  # passes that ran: "pixels", "features"
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per pass
    notes: list[str] = field(default_factory=list)  # e.g. why the feature pass was skipped

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def counts(self) -> dict[str, int]:
        return {k: len(self.of_kind(k)) for k in KINDS}

    def to_dict(self) -> dict:
        return {
            "root": str(self.root),
            "images": self.n_images,
            "status": self.status,
            "passes": list(self.passes),
            "counts": self.counts(),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "notes": self.notes,
            "findings": [f.to_dict() for f in self.findings],
        }
