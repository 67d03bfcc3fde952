"""`tlstudio runs DIR`: a project's runs, with the settings that differ between them, metrics and time."""
from __future__ import annotations

import json
import math


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "runs",
        help="list a project's runs: differing settings, final and best metrics, time",
        description="List the runs of a project: state, epochs, the settings that differ between runs, the "
        "metrics of each run's model (final) and the best of each metric over its epochs, and training time.",
    )
    parser.add_argument("project", metavar="DIR", help="the project folder (NAME.tlsproject)")
    parser.add_argument("--json", action="store_true", help="every run's settings and metrics as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    from tlstudio.commands.console import format_duration
    from tlstudio.core.printable import printable
    from tlstudio.core.project.layout import project_dir
    from tlstudio.core.project.project_file import open_project
    from tlstudio.core.project.run_summaries import differing_settings, summarize_runs, table_columns

    project = open_project(project_dir(args.project))
    summaries = summarize_runs(project.root)
    if args.json:
        print(json.dumps({"project": str(project.root), "dataset": project.dataset.to_dict(),
                          "differing_settings": differing_settings(summaries),
                          "runs": [s.to_dict() for s in summaries]}, indent=1))
        return 0
    print(f"Project {printable(project.root)}: dataset {printable(project.dataset.location)} "
          f"({project.dataset.n_items} images, {len(project.dataset.classes)} classes), "
          f"{len(summaries)} run{'' if len(summaries) == 1 else 's'}")
    if not summaries:
        return 0
    differ, metrics = table_columns(summaries)
    header = ["run", "state", "done", *differ, *(f"{m} (best)" for m in metrics), "time"]
    rows = [[f"{s.number:03d}", s.state, f"{s.epochs_done}/{s.epochs_planned}",
             *(_setting(s.settings.get(n)) for n in differ),
             *(f"{_metric(s.final.get(m))} ({_metric(s.best.get(m))})" for m in metrics),
             format_duration(s.training_s)] for s in summaries]
    widths = [max(len(printable(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(printable(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    return 0


def _setting(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _metric(value) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4f}"
