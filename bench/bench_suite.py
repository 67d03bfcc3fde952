"""The test suite's wall time at two commits, side by side in one run.

Each commit is cloned into a temporary folder and its whole suite runs there
with this checkout's `.venv` (a superset of what either needs), headless, one
after the other. The suites differ in size, so besides the totals the table
compares the tests both commits have, by their own recorded durations.

    .venv/bin/python bench/bench_suite.py                 # 415d71d against HEAD
    .venv/bin/python bench/bench_suite.py --before A --after B --order after,before
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The last commit before the engine process (the same "before" as the window benchmark).
BEFORE = "415d71d"


@dataclass
class SuiteRun:
    ref: str
    commit: str
    wall_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and end
    outcomes: dict[str, str] = field(default_factory=dict)  # test id -> passed / failed / skipped
    durations: dict[str, float] = field(default_factory=dict)  # test id -> s (setup + call + teardown)

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)


def read_junit(path: Path, run: SuiteRun) -> None:
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped" and outcome == "passed":
                outcome = "skipped"
        run.outcomes[test_id] = outcome
        run.durations[test_id] = run.durations.get(test_id, 0.0) + float(case.get("time") or 0.0)


def run_suite(ref: str, python: Path, work: Path, limit_s: int) -> SuiteRun:
    clone = work / ref.replace("/", "_")
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", ref], check=True)
    commit = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    run = SuiteRun(ref, commit)
    junit = work / f"{commit}.xml"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(clone)}
    run.load = (os.getloadavg()[0], 0.0)
    start = time.perf_counter()
    with open(work / f"{commit}.log", "w") as log:
        subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"],
                       cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=limit_s)
    run.wall_s = time.perf_counter() - start
    run.load = (run.load[0], os.getloadavg()[0])
    read_junit(junit, run)
    print(f"{ref} ({commit}): {run.wall_s / 60:.1f} min, {len(run.outcomes)} tests, log {work / (commit + '.log')}",
          flush=True)
    return run


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
