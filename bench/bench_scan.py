"""Time `tlstudio.core.dataset.scan` on Fashion-MNIST written as 70,000 PNGs in class folders.

    python bench/bench_scan.py [--dest bench/out/fashion-mnist-png] [--repeat 5] [--cold] [--compare]

The target is at most 3 s on the 2-core build machine. The first run reads the
files into the OS page cache; the figure reported is the median of the
repeats after it (a warm cache, as when a user rescans a folder). `--cold`
(Linux, root) also times one scan right after dropping the page cache, as on
the first scan after a reboot. `--compare`
also times fastai's own check, `get_image_files` + `verify_images`, which
decodes every image, on the same files.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fashion_mnist import write_fashion_mnist  # noqa: E402

from tlstudio.core.dataset.scan import scan  # noqa: E402

TARGET_S = 3.0


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def time_scan(dest: Path, repeat: int) -> tuple[list[float], list[float], int]:
    walls, cpus = [], []
    spec = scan(dest)  # warm-up: fills the page cache
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        spec = scan(dest)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus, len(spec)


def time_cold_scan(dest: Path) -> float:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")  # needs root
    t0 = time.perf_counter()
    scan(dest)
    return time.perf_counter() - t0


def time_fastai_verify(dest: Path) -> tuple[float, int]:
    from fastai.vision.all import get_image_files, verify_images

    t0 = time.perf_counter()
    files = get_image_files(dest)
    failed = verify_images(files)
    return time.perf_counter() - t0, len(files) - len(failed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=REPO / "bench" / "out" / "fashion-mnist-png")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="also time a scan after dropping the page cache (root)")
    parser.add_argument("--compare", action="store_true", help="also time fastai's verify_images")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    write_fashion_mnist(args.dest)
    print(f"dataset ready in {time.perf_counter() - t0:.1f} s: {args.dest}")
    walls, cpus, n = time_scan(args.dest, args.repeat)
    median = statistics.median(walls)
    print(f"machine: {machine()}")
    print(f"load average before/after: {os.getloadavg()[0]:.1f} (1 min)")
    print(f"scan: {n} images; wall median {median:.2f} s (min {min(walls):.2f}, max {max(walls):.2f}), "
          f"CPU median {statistics.median(cpus):.2f} s; {n / median:,.0f} files/s; "
          f"target {TARGET_S:.0f} s: {'met' if median <= TARGET_S else 'MISSED'}")
    if args.cold:
        print(f"scan with a cold page cache: {time_cold_scan(args.dest):.2f} s")
    if args.compare:
        seconds, ok = time_fastai_verify(args.dest)
        print(f"fastai get_image_files + verify_images: {ok} images in {seconds:.2f} s; {ok / seconds:,.0f} files/s")
    return 0 if median <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
