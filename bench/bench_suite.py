"""The test suite's wall time at two commits, side by side in one run.

Each commit is cloned into a temporary folder and its whole suite runs there
with this checkout's `.venv` (a superset of what either needs), headless, one
after the other. Each test's time is written as it ends (suite_timer_plugin),
so a suite that deadlocks is stopped, the test named, and the rest run. The suites differ in size, so besides the totals the table
compares the tests both commits have, by their own recorded durations.

    .venv/bin/python bench/bench_suite.py                 # 415d71d against HEAD
    .venv/bin/python bench/bench_suite.py --before A --after B --order after,before
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The last commit before the engine process (the same "before" as the window benchmark).
BEFORE = "415d71d"
HANG_S = 420  # no test ended for this long: hung (pytest's own per-test timeout is 300 s)


@dataclass
class SuiteRun:
    ref: str
    commit: str
    wall_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and end
    outcomes: dict[str, str] = field(default_factory=dict)  # test id -> passed / failed / skipped
    durations: dict[str, float] = field(default_factory=dict)  # test id -> s (setup + call + teardown)
    hung: list[str] = field(default_factory=list)  # tests stopped after HANG_S without an end
    restarts: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)


def read_times(path: Path, run: SuiteRun) -> str | None:
    """Fold the plugin's records into `run`; the test that started last and has not ended, if any."""
    last_started = None
    if path.exists():
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if "started" in record:
                last_started = record["started"]
            else:
                run.outcomes[record["test"]] = record["outcome"]
                run.durations[record["test"]] = record["s"]
                if record["test"] == last_started:
                    last_started = None
    return last_started


def run_suite(ref: str, python: Path, work: Path, limit_s: int) -> SuiteRun:
    clone = work / ref.replace("/", "_")
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", ref], check=True)
    commit = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    run = SuiteRun(ref, commit)
    times = work / f"{commit}.jsonl"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": f"{clone}{os.pathsep}{REPO / 'bench'}",
           "TLSTUDIO_SUITE_TIMES": str(times)}
    run.load = (os.getloadavg()[0], 0.0)
    start = time.perf_counter()
    with open(work / f"{commit}.log", "w") as log:
        while True:
            # A hung test (a deadlock ignores pytest's own timeout) is stopped and the suite goes on
            # without it and without the tests already run; the restart pays the session fixtures again.
            skip = [f"--deselect={t}" for t in [*run.durations, *run.hung]]
            proc = subprocess.Popen([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                     "-p", "suite_timer_plugin", *skip], cwd=clone, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            hung = watch(proc, times, start, limit_s)
            read_times(times, run)
            if hung is None:
                break
            run.hung.append(hung)
            run.restarts += 1
            print(f"{ref}: {hung} hung; going on without it", flush=True)
    run.wall_s = time.perf_counter() - start
    run.load = (run.load[0], os.getloadavg()[0])
    print(f"{ref} ({commit}): {run.wall_s / 60:.1f} min, {len(run.outcomes)} tests, log {work / (commit + '.log')}",
          flush=True)
    return run


def watch(proc: subprocess.Popen, times: Path, start: float, limit_s: int) -> str | None:
    """Wait for `proc`; stop it and name the running test when no test has started or ended for HANG_S."""
    launched = time.time()
    while proc.poll() is None:
        time.sleep(5)
        quiet = time.time() - max(launched, times.stat().st_mtime if times.exists() else launched)
        if quiet > HANG_S or time.perf_counter() - start > limit_s:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return read_times(times, SuiteRun("", "")) or "(between tests)"
    return None


def table(before: SuiteRun, after: SuiteRun) -> str:
    common = sorted(set(before.durations) & set(after.durations))
    both_passed = [t for t in common if before.outcomes[t] == after.outcomes[t] == "passed"]
    b_common = sum(before.durations[t] for t in both_passed)
    a_common = sum(after.durations[t] for t in both_passed)
    b_total, a_total = sum(before.durations.values()), sum(after.durations.values())
    rows = [
        ("commit", before.commit, after.commit, ""),
        ("tests (passed / failed / skipped)",
         *(f"{len(r.outcomes)} ({r.count('passed')} / {r.count('failed')} / {r.count('skipped')})" for r in (before, after)), ""),
        ("wall time, whole suite", f"{before.wall_s / 60:.1f} min", f"{after.wall_s / 60:.1f} min",
         f"{after.wall_s / before.wall_s:.2f}"),
        ("summed test time, whole suite", f"{b_total / 60:.1f} min", f"{a_total / 60:.1f} min", f"{a_total / b_total:.2f}"),
        (f"summed time of the {len(both_passed)} tests both pass", f"{b_common / 60:.1f} min", f"{a_common / 60:.1f} min",
         f"**{a_common / b_common:.2f}**"),
        ("mean time a test, whole suite", f"{b_total / len(before.durations):.2f} s",
         f"{a_total / len(after.durations):.2f} s",
         f"{(a_total / len(after.durations)) / (b_total / len(before.durations)):.2f}"),
        ("tests stopped as hung (the suite went on without them)", *(", ".join(r.hung) or "none" for r in (before, after)), ""),
        ("load average, start / end", *(f"{r.load[0]:.1f} / {r.load[1]:.1f}" for r in (before, after)), ""),
    ]
    lines = ["| | before | after | after / before |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    changed = sorted(both_passed, key=lambda t: after.durations[t] - before.durations[t])
    lines.append("")
    lines.append("Largest changes among the tests both pass (s, before -> after):")
    for t in changed[:5] + changed[-5:]:
        lines.append(f"- `{t}`: {before.durations[t]:.1f} -> {after.durations[t]:.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--order", default="before,after", help="which suite runs first: before,after or after,before")
    parser.add_argument("--python", type=Path, default=REPO / ".venv" / "bin" / "python")
    parser.add_argument("--limit-s", type=int, default=3600, help="a suite that runs longer is stopped")
    args = parser.parse_args(argv)
    refs = {"before": args.before, "after": args.after}
    with tempfile.TemporaryDirectory(prefix="tlstudio-suite-") as tmp:
        runs = {name: run_suite(refs[name], args.python, Path(tmp), args.limit_s) for name in args.order.split(",")}
        print(f"\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, order: {args.order}\n")
        print(table(runs["before"], runs["after"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
