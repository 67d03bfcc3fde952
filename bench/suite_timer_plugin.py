"""A pytest plugin for bench_suite.py: one JSON line a test as soon as it ends.

A suite that hangs (a deadlock) keeps what it measured before the hang, and the
bench can tell which test hung and go on without it. Loaded with
`-p suite_timer_plugin`; the file is named by TLSTUDIO_SUITE_TIMES.
"""
from __future__ import annotations

import json
import os
import time

_times: dict[str, dict] = {}


def pytest_runtest_logstart(nodeid, location):
    _write({"started": nodeid, "at": time.time()})


def pytest_runtest_logreport(report):
    entry = _times.setdefault(report.nodeid, {"test": report.nodeid, "s": 0.0, "outcome": "passed"})
    entry["s"] += report.duration
    if report.failed:
        entry["outcome"] = "failed"
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
    if report.when == "teardown":
        _write(_times.pop(report.nodeid))


def _write(record: dict) -> None:
    with open(os.environ["TLSTUDIO_SUITE_TIMES"], "a") as out:
        out.write(json.dumps(record) + "\n")
