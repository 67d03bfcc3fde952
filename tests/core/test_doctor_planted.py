"""The doctor on real images with known problems planted in them: the issue's recall targets."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tlstudio.core.dataset.scan import scan
from tlstudio.core.doctor import DoctorConfig, DoctorFindings, FeatureConfig, run_doctor
from tlstudio.core.events import ListReporter, Progress

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from planted_problems import plant, score_flips, score_sets  # noqa: E402

PER_CLASS = 30  # of each of the demo set's 10 classes; 6 of them in valid


@pytest.fixture(scope="module")
def planted(tmp_path_factory, demo_dir):
    sources = {c.name: sorted(c.glob("*.png"))[:PER_CLASS] for c in sorted(demo_dir.iterdir()) if c.is_dir()}
    truth = plant(tmp_path_factory.mktemp("planted"), sources, valid_per_class=6, n_exact=10, n_near=12,
                  n_leaks=10, n_conflicts=3, flip_fraction=0.05)
    spec = scan(truth.root)
    reporter = ListReporter()
    report = run_doctor(spec, reporter, DoctorConfig(feature=FeatureConfig(size=64, device="cpu")))
    return truth, spec, report, reporter


def test_it_ran_both_passes_over_every_image(planted):
    truth, spec, report, _ = planted
    assert report.status == "completed" and report.passes == ("pixels", "features")
    assert report.n_images == len(spec) == 10 * PER_CLASS + 10 + 12 + 10 + 3
    assert not report.notes


def test_exact_duplicates_whatever_the_format_and_name(planted):
    truth, _, report, _ = planted
    score = score_sets(truth.exact, report.of_kind("exact_duplicate"))
    assert score.planted == 10 + 5 + 3  # re-encoded copies, exact leaks, conflicting copies
    assert score.recall >= 0.9, score
    assert score.precision >= 0.9, score
    assert any(Path(f).suffix == ".bmp" for x in report.of_kind("exact_duplicate") for f in x.files)


def test_near_duplicates_resized_recompressed_brightened_cropped(planted):
    truth, _, report, _ = planted
    assert set(truth.near_how.values()) == {"resized", "jpeg", "brighter", "cropped"}
    score = score_sets(truth.near, report.of_kind("near_duplicate"))
    assert score.recall >= 0.8, score
    assert score.precision >= 0.7, score


def test_train_valid_leaks(planted):
    truth, _, report, _ = planted
    score = score_sets(truth.leaks, report.of_kind("leak"))
    assert score.recall >= 0.9, score
    assert score.precision >= 0.8, score
    assert all("train and valid" in f.detail for f in report.of_kind("leak"))


def test_conflicting_labels(planted):
    truth, _, report, _ = planted
    score = score_sets(truth.conflicts, report.of_kind("conflicting_label"))
    assert score.recall == 1.0 and score.precision >= 0.75, score


def test_half_the_flipped_labels_rank_in_the_top_tenth(planted):
    truth, spec, report, _ = planted
    issues = report.of_kind("label_issue")
    assert len(truth.flipped) == 15
    top = score_flips(truth.flipped, issues, len(spec) // 10)
    assert top.found >= len(truth.flipped) / 2, top
    # most likely first: scores fall along the list, and each names another class
    assert [f.score for f in issues] == sorted((f.score for f in issues), reverse=True)
    labels = dict(zip(spec.items, spec.labels))
    assert all(f.suggested_label in spec.classes and f.suggested_label != labels[f.files[0]] for f in issues)


def test_findings_use_absolute_paths_of_the_dataset(planted):
    truth, spec, report, _ = planted
    items = set(spec.items)
    for f in report.findings:
        assert f.files and all(Path(p).is_absolute() and Path(p) in items for p in f.files), f


def test_quick_findings_come_before_the_feature_pass(planted):
    _, _, report, reporter = planted
    events = reporter.events
    partial = [i for i, e in enumerate(events) if isinstance(e, DoctorFindings) and not e.final]
    features = [i for i, e in enumerate(events) if isinstance(e, Progress) and e.task == "Caching body features"]
    assert len(partial) == 1 and features and partial[0] < features[0]
    quick = events[partial[0]].findings
    assert {f.kind for f in quick} >= {"exact_duplicate", "leak", "conflicting_label"}
    assert not any(f.kind == "label_issue" for f in quick)
    final = [e for e in events if isinstance(e, DoctorFindings) and e.final]
    assert len(final) == 1 and events[-1] is final[0] and list(final[0].findings) == report.findings
    progress = [e for e in events if isinstance(e, Progress) and e.task == "Caching body features"]
    assert progress[-1].done == progress[-1].total > 1
