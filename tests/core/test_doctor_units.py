"""Doctor parts on small, exactly known inputs: confident learning, hashing, outliers, imbalance, cancel."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tlstudio.core.dataset.scan import scan
from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.doctor import DoctorConfig, run_doctor
from tlstudio.core.doctor.duplicates import (
    PHASH_CANDIDATE_DISTANCE,
    aligned_similarity,
    candidate_distance,
    feature_pairs,
    phash_pairs,
)
from tlstudio.core.doctor.label_issues import find_label_issues, self_confidence_order
from tlstudio.core.events import ListReporter, Progress


def _spec(root, items, labels, splits=None):
    return DatasetSpec(root=root, layout="class-folders", items=items, labels=labels,
                       splits=splits or ["train"] * len(items), classes=sorted(set(labels)))


def test_confident_learning_counts_then_ranks_by_self_confidence():
    # Class thresholds: t0 = mean p0 over label-0 rows = (.9+.8+.7+.2)/4 = .65, t1 = (.9+.8+.4)/3 = .7.
    probs = np.array([[.9, .1], [.8, .2], [.7, .3], [.2, .8], [.1, .9], [.2, .8], [.6, .4]])
    labels = np.array([0, 0, 0, 0, 1, 1, 1])
    # Row 3 (label 0, p1 .8 >= .7) is confidently class 1; row 6 (label 1, p0 .6 < .65) is not
    # confidently anything: one off-diagonal entry, so one issue, the least self-confident row.
    issues = find_label_issues(probs, labels)
    assert [(i.index, i.suggested) for i in issues] == [(3, 1)]
    assert issues[0].self_confidence == pytest.approx(0.2)
    assert self_confidence_order(probs, labels).tolist()[:2] == [3, 6]


def test_phash_pairs_match_a_brute_force_count():
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, 700, dtype=np.int64).astype(np.uint64)
    hashes[5] = hashes[600] ^ np.uint64(0b1011)  # 3 bits apart
    pairs = phash_pairs(hashes, max_distance=3)
    expected = {(i, j) for i in range(700) for j in range(i + 1, 700)
                if bin(int(hashes[i]) ^ int(hashes[j])).count("1") <= 3}
    assert {tuple(p) for p in pairs.tolist()} == expected and (5, 600) in expected


def test_the_candidate_distance_narrows_for_crowded_hashes():
    rng = np.random.default_rng(2)
    sparse = rng.integers(0, 2**63, 2000, dtype=np.int64).astype(np.uint64)
    assert candidate_distance(sparse) == PHASH_CANDIDATE_DISTANCE
    # all within 12 low bits of one hash: pairs within 10 bits are most of the 2 million
    crowded = np.uint64(0xF0F0F0F0F0F00000) ^ rng.integers(0, 2**12, 2000).astype(np.uint64)
    distance = candidate_distance(crowded)
    assert distance < PHASH_CANDIDATE_DISTANCE
    assert len(phash_pairs(crowded)) <= 2 * 4 * len(crowded) < len(phash_pairs(crowded, distance + 1))


def test_feature_pairs_are_nearest_neighbours():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 16)).astype(np.float32)
    x[7] = x[31] + 0.01
    pairs = {tuple(p) for p in feature_pairs(x, k=1).tolist()}
    assert (7, 31) in pairs and all(i < j for i, j in pairs)


def test_a_cropped_copy_aligns_and_a_different_picture_does_not(demo_dir):
    a = Image.open(sorted((demo_dir / "coat").glob("*.png"))[0])
    other = Image.open(sorted((demo_dir / "bag").glob("*.png"))[0])
    crop = a.crop((1, 1, 27, 27))
    thumbs = np.stack([np.asarray(im.resize((32, 32), Image.BILINEAR)) for im in (a, crop, other)])
    sims = aligned_similarity(thumbs, np.array([[0, 1], [0, 2]]))
    assert sims[0] > 0.98 > sims[1]


def _save(path, array, mode):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)
    return path


def test_outliers_imbalance_and_pixel_identical_copies(tmp_path, demo_dir):
    rng = np.random.default_rng(0)
    items, labels = [], []
    for i in range(40):
        items.append(_save(tmp_path / "a" / f"{i}.png", rng.integers(0, 255, (24, 24, 3), dtype=np.uint8), "RGB"))
        labels.append("a")
    for i in range(4):
        items.append(_save(tmp_path / "b" / f"{i}.png", rng.integers(0, 255, (24, 24, 3), dtype=np.uint8), "RGB"))
        labels.append("b")
    odd = {
        "blank": _save(tmp_path / "a" / "blank.png", np.full((24, 24, 3), 200, np.uint8), "RGB"),
        "dark": _save(tmp_path / "a" / "dark.png", rng.integers(0, 20, (24, 24, 3), dtype=np.uint8), "RGB"),
        "large": _save(tmp_path / "a" / "large.png", rng.integers(0, 255, (96, 96, 3), dtype=np.uint8), "RGB"),
        "wide": _save(tmp_path / "a" / "wide.png", rng.integers(0, 255, (16, 40, 3), dtype=np.uint8), "RGB"),
        "gray": _save(tmp_path / "a" / "gray.png", rng.integers(0, 255, (24, 24), dtype=np.uint8), "L"),
    }
    Image.open(items[0]).save(tmp_path / "a" / "same.bmp")  # same pixels, another format and name
    items += [*odd.values(), tmp_path / "a" / "same.bmp"]
    labels += ["a"] * 6
    report = run_doctor(_spec(tmp_path, items, labels), config=DoctorConfig(features=False))
    assert report.passes == ("pixels",) and report.status == "completed"
    flagged = {f.files[0]: f.detail.lower() for f in report.of_kind("outlier")}
    assert set(flagged) == set(odd.values()), flagged
    assert "blank" in flagged[odd["blank"]] and "dark" in flagged[odd["dark"]]
    assert "larger" in flagged[odd["large"]] and "aspect" in flagged[odd["wide"]]
    assert "grayscale" in flagged[odd["gray"]]
    (imbalanced,) = report.of_kind("imbalance")
    assert "'b'" in imbalanced.detail and "only 4 images" in imbalanced.detail and len(imbalanced.files) == 4
    (exact,) = report.of_kind("exact_duplicate")
    assert set(exact.files) == {items[0], tmp_path / "a" / "same.bmp"}


def test_cancel_keeps_the_quick_findings(tmp_path, demo_dir):
    spec = scan(demo_dir)
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, Progress) and e.task == "Caching body features")
    report = run_doctor(spec, reporter, DoctorConfig())
    assert report.status == "cancelled" and report.passes == ("pixels",)
    assert report.timings["pixels"] > 0 and "features" not in report.timings
    cached = [e for e in reporter.events if isinstance(e, Progress) and e.task == "Caching body features"]
    assert len(cached) == 1  # stopped after the first batch


def test_cancel_during_the_pixel_pass(demo_dir):
    spec = scan(demo_dir)
    reporter = ListReporter()
    reporter.cancel()
    report = run_doctor(spec, reporter)
    assert report.status == "cancelled" and report.passes == () and report.findings == []


def test_the_process_pool_reads_what_one_process_reads(demo_dir, monkeypatch):
    from tlstudio.core.doctor import pixels
    from tlstudio.core.events import NullReporter

    paths = sorted(demo_dir.glob("*/*.png"))[:120]
    alone = pixels.read_pixels(paths, NullReporter(), workers=1)
    monkeypatch.setattr(pixels, "_POOL_FROM", 0)
    monkeypatch.setattr(pixels, "_CHUNK", 25)
    reporter = ListReporter()
    pooled = pixels.read_pixels(paths, reporter, workers=2)
    assert pooled.digests == alone.digests and pooled.modes == alone.modes and pooled.sizes == alone.sizes
    assert np.array_equal(pooled.phash, alone.phash) and np.array_equal(pooled.thumbs, alone.thumbs)
    done = [e.done for e in reporter.of_type(Progress)]
    assert done == [0, 25, 50, 75, 100, 120]
