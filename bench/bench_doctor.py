"""The dataset doctor on Fashion-MNIST: precision and recall of planted problems, and wall times.

    python bench/bench_doctor.py [--out bench/out] [--size 64] [--subset 2000] [--skip-70k]

1. Fashion-MNIST, 200 train + 50 valid images per class (2,500), with
   problems planted by `planted_problems.plant`: 30 exact duplicates
   (re-encoded as BMP, TIFF or PNG under another name), 32 near duplicates
   (resized 1.5x, JPEG quality 75, 15% brighter, 4% cut off each side),
   30 train images copied into valid (half exact, half near), 10 images
   copied into a second class, and 5% of the images moved to a wrong class.
   Precision and recall per kind, the flipped labels in the top 10% of the
   label-issue ranking, and the wall time of each pass.
2. All 70,000 images: the pixel pass (decode, pixel digests, perceptual
   hashes, exact and near duplicates, outliers). Target: within 60 s on 2 cores.
3. The feature pass on the first `--subset` of those images, with the ETA the
   CLI shows (from the progress events) at 10% and 50% against the real
   finish, and its cost per image extrapolated to 70,000.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from bench_scan import machine  # noqa: E402
from fashion_mnist import CLASSES, write_fashion_mnist  # noqa: E402
from planted_problems import plant, score_flips, score_sets  # noqa: E402

from tlstudio.core.dataset.scan import scan  # noqa: E402
from tlstudio.core.doctor import DoctorConfig, FeatureConfig, run_doctor  # noqa: E402
from tlstudio.core.doctor.feature_pass import backbone_features  # noqa: E402
from tlstudio.core.events import ListReporter, Progress  # noqa: E402
from tlstudio.core.training.features import TASK as FEATURE_TASK  # noqa: E402

TARGET_PIXEL_PASS_S = 60.0


def planted_set(out: Path, size: int) -> None:
    source = write_fashion_mnist(out / "fashion-mnist-250", per_class=125)  # 125 from each source file
    sources = {c: sorted((source / c).glob("*.png")) for c in CLASSES}
    dest = out / "doctor-planted"
    shutil.rmtree(dest, ignore_errors=True)
    truth = plant(dest, sources, valid_per_class=50, n_exact=30, n_near=32, n_leaks=30, n_conflicts=10,
                  flip_fraction=0.05)
    spec = scan(dest)
    start = time.perf_counter()
    report = run_doctor(spec, None, DoctorConfig(feature=FeatureConfig(size=size, device="cpu")))
    wall = time.perf_counter() - start
    print(f"\n## Planted Fashion-MNIST set: {len(spec)} images, features at {size} px\n")
    print("| kind | planted | found | recall | reported | precision |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, planted in (("exact_duplicate", truth.exact), ("near_duplicate", truth.near),
                          ("leak", truth.leaks), ("conflicting_label", truth.conflicts)):
        s = score_sets(planted, report.of_kind(kind))
        print(f"| {kind} | {s.planted} | {s.found} | {s.recall:.2f} | {s.reported} | {s.precision:.2f} |")
    issues = report.of_kind("label_issue")
    top = score_flips(truth.flipped, issues, len(spec) // 10)
    every = score_flips(truth.flipped, issues, len(issues))
    print(f"| label_issue (all flagged) | {every.planted} | {every.found} | {every.recall:.2f} | "
          f"{every.reported} | {every.precision:.2f} |")
    print(f"| label_issue (top 10%, {len(spec) // 10}) | {top.planted} | {top.found} | {top.recall:.2f} | "
          f"{top.reported} | {top.precision:.2f} |")
    near = report.of_kind("near_duplicate")
    for how in ("resized", "jpeg", "brighter", "cropped"):
        pairs = [p for p, h in truth.near_how.items() if h == how]
        s = score_sets(pairs, near)
        print(f"\nnear duplicates, {how}: {s.found}/{s.planted}", end="")
    print(f"\n\nWall time: {wall:.1f} s in all (load average {os.getloadavg()[0]:.1f}); " + ", ".join(f"{k} pass {v:.1f} s" for k, v in report.timings.items()))
    print("Counts: " + ", ".join(f"{k} {n}" for k, n in report.counts().items()))


def pixel_pass_70k(out: Path):
    spec = scan(write_fashion_mnist(out / "fashion-mnist-png"))
    before, start = os.times(), time.perf_counter()
    report = run_doctor(spec, None, DoctorConfig(features=False))
    wall, after = time.perf_counter() - start, os.times()
    # CPU time of this process and of the pool's (joined) processes: what
    # other work on a shared machine does not inflate.
    cpu = sum(getattr(after, k) - getattr(before, k) for k in ("user", "system", "children_user", "children_system"))
    verdict = "within" if wall <= TARGET_PIXEL_PASS_S else "over"
    print(f"\n## Pixel pass on {len(spec):,} images\n")
    print(f"Wall time {wall:.1f} s ({verdict} the {TARGET_PIXEL_PASS_S:.0f} s target), CPU time {cpu:.1f} s, "
          f"load average {os.getloadavg()[0]:.1f}; " + ", ".join(f"{k} {n}" for k, n in report.counts().items()))
    return spec


def feature_pass_subset(spec, n: int, size: int, total: int) -> None:
    keep = list(range(n))
    sub = replace(spec, items=[spec.items[i] for i in keep], labels=[spec.labels[i] for i in keep],
                  splits=[spec.splits[i] for i in keep], sizes=[], modes=[])
    stamps: list[tuple[float, int, int]] = []

    class Timed(ListReporter):
        def emit(self, event):
            if isinstance(event, Progress) and event.task == FEATURE_TASK:
                stamps.append((time.perf_counter(), event.done, event.total))

    start = time.perf_counter()
    backbone_features(sub, FeatureConfig(size=size, device="cpu"), Timed())
    wall = time.perf_counter() - start
    t0, d0, batches = stamps[0]
    end = stamps[-1][0]

    def eta_at(fraction: float) -> str:
        t, d, _ = next(s for s in stamps if s[1] >= fraction * batches)
        eta = (t - t0) / (d - d0) * (batches - d) if d > d0 else float("nan")
        return f"at {fraction:.0%} the ETA said {eta:.0f} s, {end - t:.0f} s remained"

    per_image = wall / n
    print(f"\n## Feature pass on {n:,} of those images, {size} px, {batches} batches\n")
    print(f"Wall time {wall:.1f} s ({per_image * 1000:.1f} ms per image, learner setup included, "
          f"load average {os.getloadavg()[0]:.1f}); "
          f"{eta_at(0.1)}; {eta_at(0.5)}.")
    print(f"Extrapolated to {total:,} images: about {per_image * total / 60:.0f} min.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BENCH / "out")
    parser.add_argument("--size", type=int, default=64, help="feature input size in pixels (64)")
    parser.add_argument("--subset", type=int, default=2000, help="images the 70,000-image feature pass is timed on")
    parser.add_argument("--skip-70k", action="store_true")
    args = parser.parse_args(argv)
    print(f"Machine: {machine()}; {time.strftime('%Y-%m-%d')}", flush=True)
    planted_set(args.out, args.size)
    if not args.skip_70k:
        spec = pixel_pass_70k(args.out)
        feature_pass_subset(spec, args.subset, args.size, len(spec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
