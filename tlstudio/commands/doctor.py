"""`tlstudio doctor DATA`: duplicates, leaks, conflicting labels, likely label errors, imbalance and outliers.

A quick pixel pass runs first and its findings are announced on stderr; the
feature pass (the pretrained backbone over every image) follows with a
progress bar and an ETA. `--quick` stops after the pixel pass. Ctrl-C stops
the feature pass and prints what the finished passes found (exit status 130).

`--apply EDITS.json` does an edit list to the files instead (class folders
only): images move between class folders or into `_removed/`, never deleted
or overwritten, with an undo log written first; `--undo LOG` moves them back.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from tlstudio.commands.console import ConsoleReporter, bar, cancel_on_sigint
from tlstudio.core.durations import format_duration

EXIT_CANCELLED = 130
SHOWN_PER_KIND = 5


def add_parser(subparsers) -> None:
    from tlstudio.core.doctor import FeatureConfig

    defaults = FeatureConfig()
    parser = subparsers.add_parser(
        "doctor",
        help="find duplicates, leaks, label errors, imbalance and outliers in a dataset",
        description="Check a dataset before training: exact and near duplicates, copies shared between "
        "train/valid/test, one image under two labels, likely wrong labels, class imbalance and odd images.",
    )
    parser.add_argument("data", nargs="?", help="dataset folder, .zip or .csv")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--apply", metavar="EDITS.json",
                        help="instead of checking, do the edit list to the files: relabelled images move to their "
                        "class's folder, excluded ones into _removed/; nothing is deleted or overwritten")
    parser.add_argument("--undo-log", metavar="LOG",
                        help="with --apply: where to write the undo log (default: the app's data folder)")
    parser.add_argument("--undo", metavar="LOG", help="move the files an --apply moved back, as its undo log says")
    parser.add_argument("--quick", action="store_true",
                        help="pixel pass only: no near duplicates by features, no label errors")
    parser.add_argument("--arch", default=defaults.arch, help=f"backbone for the features ({defaults.arch})")
    parser.add_argument("--size", type=int, default=defaults.size, help=f"feature input size in pixels ({defaults.size})")
    parser.add_argument("--device", default=defaults.device, choices=("auto", "cpu", "cuda", "mps"),
                        help="where the backbone runs (auto)")
    parser.add_argument("--image-cache", action=argparse.BooleanOptionalAction, default=defaults.image_cache,
                        help="read the images through the decode-once cache (default: on)")
    parser.add_argument("--valid-pct", type=float, default=0.2, help="validation fraction when no valid/ folder (0.2)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the random split (42)")
    parser.set_defaults(run=run)


class DoctorConsole(ConsoleReporter):
    """The console reporter, plus an ETA on progress bars and a line for the quick pass's findings."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._task_start: dict[str, tuple[float, int]] = {}

    def _on_Progress(self, e) -> None:
        now = time.monotonic()
        start, first = self._task_start.setdefault(e.task, (now, e.done))
        rate = (e.done - first) / (now - start) if now > start and e.done > first else 0.0
        eta = format_duration((e.total - e.done) / rate) if rate and e.total else "--:--"
        counts = f"{e.done}/{e.total}" if e.total else str(e.done)
        self._draw(f"{e.task} {bar(e.done, e.total)} {counts}  ETA {eta}", force=bool(e.total) and e.done >= e.total)

    def _on_DoctorFindings(self, e) -> None:
        if not e.final:
            from collections import Counter

            from tlstudio.core.doctor import TITLES

            counts = Counter(f.kind for f in e.findings)
            found = ", ".join(f"{TITLES[kind].lower()} {n}" for kind, n in counts.items()) or "nothing"
            self.note(f"Pixel pass: {found}. Now the feature pass (Ctrl-C stops it and keeps these)...")


def run(args) -> int:
    from tlstudio.core.dataset.scan import scan
    from tlstudio.core.doctor import DoctorConfig, FeatureConfig
    from tlstudio.core.jobs.data import DoctorJob
    from tlstudio.core.jobs.host import run_here

    reporter = DoctorConsole()
    if args.undo:
        from tlstudio.commands.doctor_files import undo

        return undo(args, reporter)
    if not args.data:
        from tlstudio.cli import UserError

        raise UserError("give the dataset to check (DATA), or --undo LOG")
    spec = scan(args.data, valid_pct=args.valid_pct, seed=args.seed, reporter=reporter)
    if args.apply:
        from tlstudio.commands.doctor_files import apply

        return apply(args, spec, reporter)
    config = DoctorConfig(features=not args.quick,
                          feature=FeatureConfig(arch=args.arch, size=args.size, device=args.device,
                                                image_cache=args.image_cache))
    with cancel_on_sigint(reporter, "the doctor"):
        report = run_here(DoctorJob(spec, config), reporter)  # the Data page's job, here
    for note in report.notes:
        reporter.note(f"warning: {note}")
    text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if args.json else format_report(report, spec)
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # piped into `head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_CANCELLED if report.status == "cancelled" else 0


def format_report(report, spec) -> str:
    from tlstudio.commands.scan import display_path
    from tlstudio.core.doctor import KINDS, TITLES
    from tlstudio.core.printable import printable

    passes = " and ".join(report.passes) or "no"
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in report.timings.items())
    lines = [f"Doctor: {printable(report.root)}, {report.n_images} images; {passes} pass{'es' if len(report.passes) > 1 else ''}"
             + (f" ({timing})" if timing else "") + ("; cancelled" if report.status == "cancelled" else "")]
    for kind in KINDS:
        found = report.of_kind(kind)
        lines += ["", f"{TITLES[kind]} ({kind}): {len(found)}"]
        for f in found[:SHOWN_PER_KIND]:
            files = ", ".join(printable(display_path(p, spec)) for p in f.files[:4]) + (" ..." if len(f.files) > 4 else "")
            if kind == "imbalance":
                files = f"{len(f.files)} images"
            lines.append(f"  {f.score:6.3f}  {printable(f.detail)}: {files}")
        if len(found) > SHOWN_PER_KIND:
            lines.append(f"  ... and {len(found) - SHOWN_PER_KIND} more (--json lists all)")
    lines += [f"Note: {n}" for n in report.notes]
    return "\n".join(lines)
