"""Time from process start to a painted TL Studio window, next to `import fastai.vision.all`.

    .venv/bin/python bench/bench_startup.py [--repeat 5]

Both run as fresh processes, alternating, so disk cache and machine load hit
them alike. The window prints `TLSTUDIO_PAINTED <epoch>` at its first paint
(`TLSTUDIO_STARTUP_PROBE=quit`, see tlstudio/app.py) and closes itself.
Target: the window within 30% of the fastai import time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def time_window(env: dict) -> float:
    start = time.time()
    out = subprocess.run(
        [sys.executable, str(REPO / "main.py")], env={**env, "TLSTUDIO_STARTUP_PROBE": "quit"},
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    line = next((l for l in out.stdout.splitlines() if l.startswith("TLSTUDIO_PAINTED ")), None)
    if line is None:
        raise RuntimeError(f"the window never reported a paint:\n{out.stdout}\n{out.stderr}")
    return float(line.split()[1]) - start


def time_fastai(env: dict) -> float:
    start = time.time()
    subprocess.run([sys.executable, "-c", "import fastai.vision.all"], env=env, check=True, capture_output=True, timeout=300)
    return time.time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as settings_dir:
        env = {**os.environ, "TLSTUDIO_SETTINGS_DIR": settings_dir}
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        time_window(env)  # warm the disk cache for both before measuring
        time_fastai(env)
        window, fastai = [], []
        for _ in range(args.repeat):
            window.append(time_window(env))
            fastai.append(time_fastai(env))
    w, f = statistics.median(window), statistics.median(fastai)
    print(f"window painted       median {w:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in window)})")
    print(f"import fastai.vision median {f:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in fastai)})")
    print(f"ratio {w / f:.0%} (target <= 30%)  platform {env['QT_QPA_PLATFORM']}, {os.cpu_count()} CPUs")
    return 0 if w <= 0.3 * f else 1


if __name__ == "__main__":
    sys.exit(main())
