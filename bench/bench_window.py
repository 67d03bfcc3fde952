"""The window's cost while the engine process works: its resident memory after the whole
workflow on the demo set, the event loop's p99 and longest gap while each job runs, and the
time from Start to the first stage. Runs tests/qt/window_workflow.py in a fresh process.

    .venv/bin/python bench/bench_window.py [DATASET]
    TLSTUDIO_WORKFLOW_BS=64 TLSTUDIO_WORKFLOW_STEP_S=2400 .venv/bin/python bench/bench_window.py 70k-folder
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    data = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "resources" / "demo")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, str(REPO / "tests" / "qt" / "window_workflow.py"), data, out],
                              capture_output=True, text=True, env=env, timeout=3 * 3600)
        wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"# {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, {data}, workflow {wall:.0f} s")
    print(f"window resident memory after the workflow: {facts['window_rss_mb']:.0f} MB; "
          f"torch/fastai in the window: {facts['heavy'] or 'none'}")
    print(f"Start to first stage: {facts['start_to_first_stage_s']} s")
    print("| job | p99 gap (ms) | max gap (ms) |\n|---|---|---|")
    for step, gap in facts["loop_gaps"].items():
        print(f"| {step} | {gap['p99_ms']} | {gap['max_ms']} |")


if __name__ == "__main__":
    main()
