"""The doctor as one plain job: `run_doctor(spec, reporter, config) -> DoctorReport`.

The quick pixel pass (exact duplicates, perceptual-hash near duplicates,
leaks and conflicts among them, imbalance, outliers) reports its findings
as a `DoctorFindings(final=False)` event before the slow feature pass starts;
that pass adds near duplicates found by the features and likely label errors.
A cancel ends the job with the findings of the passes that finished.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.doctor import duplicates, label_issues
from tlstudio.core.doctor.classes import imbalance
from tlstudio.core.doctor.feature_pass import FeatureConfig, backbone_features
from tlstudio.core.doctor.findings import DoctorFindings, DoctorReport, Finding, ranked
from tlstudio.core.doctor.leaks import duplicate_findings
from tlstudio.core.doctor.outliers import outliers
from tlstudio.core.doctor.pixels import read_pixels
from tlstudio.core.errors import UserFacingError
from tlstudio.core.events import Cancelled, Message, NullReporter, Reporter


@dataclass(frozen=True)
class DoctorConfig:
    features: bool = True  # run the slow feature pass (near duplicates by features, label errors)
    feature: FeatureConfig = field(default_factory=FeatureConfig)
    folds: int = label_issues.FOLDS
    workers: int | None = None  # processes reading pixels (None: one per core)


def run_doctor(spec: DatasetSpec, reporter: Reporter | None = None,
               config: DoctorConfig | None = None) -> DoctorReport:
    reporter = reporter or NullReporter()
    config = config or DoctorConfig()
    report = DoctorReport(root=spec.root, n_images=len(spec))
    try:
        _run(spec, reporter, config, report)
    except Cancelled:
        report.status = "cancelled"
    reporter.emit(DoctorFindings(tuple(report.findings), final=True))
    return report


def _run(spec: DatasetSpec, reporter: Reporter, config: DoctorConfig, report: DoctorReport) -> None:
    start = time.perf_counter()
    facts = read_pixels(spec.items, reporter, config.workers)
    exact = duplicates.exact_sets(facts.digests)
    hash_pairs = duplicates.phash_pairs(facts.phash)
    near = duplicates.near_sets(facts.thumbs, exact, hash_pairs)
    steady = imbalance(spec) + outliers(spec, facts) + duplicate_findings(spec, exact, "exact_duplicate")
    report.findings = ranked(steady + duplicate_findings(spec, near, "near_duplicate"))
    report.passes += ("pixels",)
    report.timings["pixels"] = time.perf_counter() - start
    if not config.features or len(spec.items) < 2:
        return
    reporter.emit(DoctorFindings(tuple(report.findings), final=False))

    start = time.perf_counter()
    try:
        features = backbone_features(spec, config.feature, reporter)
    except UserFacingError as exc:  # e.g. the pretrained weights are not on this machine
        features = None
        report.notes.append(f"Feature pass skipped: {exc}")
    if features is None:
        if not report.notes:
            report.notes.append("Feature pass skipped: the features would not fit in memory")
        reporter.emit(Message("warning", report.notes[-1]))
        return
    near = duplicates.near_sets(facts.thumbs, exact, hash_pairs, duplicates.feature_pairs(features))
    report.findings = ranked(steady + duplicate_findings(spec, near, "near_duplicate")
                             + _label_issues(spec, features, config))
    report.passes += ("features",)
    report.timings["features"] = time.perf_counter() - start


def _label_issues(spec: DatasetSpec, features: np.ndarray, config: DoctorConfig) -> list[Finding]:
    index = {c: i for i, c in enumerate(spec.classes)}
    labels = np.array([index[label] for label in spec.labels])
    probs = label_issues.out_of_fold_probabilities(features, labels, len(spec.classes), config.folds)
    return [
        Finding("label_issue", (spec.items[issue.index],), 1.0 - issue.self_confidence,
                f"Labelled '{spec.labels[issue.index]}' but looks like '{spec.classes[issue.suggested]}' "
                f"(probability of its label {issue.self_confidence:.2f})",
                suggested_label=spec.classes[issue.suggested])
        for issue in label_issues.find_label_issues(probs, labels)
    ]
