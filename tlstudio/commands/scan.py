"""`tlstudio scan PATH`: what a dataset holds, how it is split, and what was skipped and why."""
from __future__ import annotations

import json
import os
import sys

from tlstudio.core.printable import printable

SPLITS = ("train", "valid", "test")
SHOWN_PER_REASON = 5  # skipped files listed per reason without --verbose


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="list a dataset's classes, splits and skipped files",
        description="Scan a folder of class folders, train/valid(/test) folders, a CSV of file,label rows, "
        "or a .zip of any of these. Nothing is decoded: only image headers are read.",
    )
    parser.add_argument("path", help="dataset folder, .zip or .csv")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--valid-pct", type=float, default=0.2, help="validation fraction when no valid/ folder (0.2)")
    parser.add_argument("--test-pct", type=float, default=0.0, help="test fraction when no test/ folder (0)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the random split (42)")
    parser.add_argument("--max-pixels", type=int, default=None,
                        help="skip images with more pixels than this (default: PIL's decompression-bomb limit)")
    parser.add_argument("--allow-absolute-paths", action="store_true",
                        help="a CSV you wrote may name files outside its folder (absolute or ../ paths)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help=f"list every skipped file, not the first {SHOWN_PER_REASON} of each reason")
    parser.set_defaults(run=run)


def run(args) -> int:
    from tlstudio.core.dataset.image_check import DEFAULT_MAX_PIXELS
    from tlstudio.core.dataset.scan import scan

    spec = scan(args.path, valid_pct=args.valid_pct, test_pct=args.test_pct, seed=args.seed,
                max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS, allow_outside=args.allow_absolute_paths)
    if args.json:
        text = json.dumps(spec_to_dict(spec), indent=2, ensure_ascii=False)
    else:
        text = format_spec(spec, verbose=args.verbose)
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # piped into `head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def display_path(path, spec) -> str:
    """Paths relative to the dataset folder: shorter, and free of the zip cache's location."""
    base = spec.data_dir or (spec.root if spec.root.is_dir() else spec.root.parent)
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


def spec_to_dict(spec) -> dict:
    return {
        "root": str(spec.root),
        "layout": spec.layout,
        "data_dir": str(spec.data_dir) if spec.data_dir else None,
        "source_zip": str(spec.source_zip) if spec.source_zip else None,
        "seed": spec.seed,
        "images": len(spec),
        "classes": spec.classes,
        "class_counts": spec.class_counts(),
        "split_counts": spec.split_counts(),
        "counts": {split: spec.class_counts(split) for split in SPLITS},
        "warnings": spec.warnings,
        "skipped": [
            {"path": display_path(s.path, spec), "reason": s.reason, "detail": s.detail} for s in spec.skipped
        ],
    }


def format_spec(spec, verbose: bool = False) -> str:
    """The scan for a reader: every name escaped (see core/printable.py), and
    the skipped files summarised per reason unless `verbose`."""
    layout = {"class-folders": "one folder per class", "split-folders": "train/valid/test folders",
              "csv": "CSV of file,label rows"}.get(spec.layout, spec.layout)
    if spec.source_zip:
        layout += ", from a zip archive"
    splits = spec.split_counts()
    how = f"random, stratified, seed {spec.seed}" if spec.seed is not None else "as given"
    lines = [
        f"Dataset: {printable(spec.root)} ({layout})",
        f"Images:  {len(spec)} in {len(spec.classes)} classes; "
        + ", ".join(f"{s} {splits[s]}" for s in SPLITS) + f" ({how})",
        "",
    ]
    names = {cls: printable(cls) for cls in spec.classes}
    width = max(len("class"), *(len(n) for n in names.values()))
    lines.append(f"  {'class':<{width}}  " + "".join(f"{s:>7}" for s in (*SPLITS, "total")))
    per_split = {s: spec.class_counts(s) for s in SPLITS}
    totals = spec.class_counts()
    for cls in spec.classes:
        lines.append(f"  {names[cls]:<{width}}  " + "".join(f"{per_split[s][cls]:>7}" for s in SPLITS)
                     + f"{totals[cls]:>7}")
    if spec.warnings:
        lines += ["", f"Warnings ({len(spec.warnings)}):"] + [f"  - {printable(w)}" for w in spec.warnings]
    lines += ["", *format_skipped(spec, verbose)]
    return "\n".join(lines)


def format_skipped(spec, verbose: bool = False) -> list[str]:
    if not spec.skipped:
        return ["Skipped files: none"]
    by_reason: dict[str, list] = {}
    for s in spec.skipped:
        by_reason.setdefault(s.reason, []).append(s)
    order = sorted(by_reason, key=lambda r: (-len(by_reason[r]), r))
    lines = [f"Skipped files ({len(spec.skipped):,}): "
             + ", ".join(f"{len(by_reason[r]):,} {r}" for r in order)]
    width = max(len(r) for r in order)
    for reason in order:
        entries = by_reason[reason]
        shown = entries if verbose else entries[:SHOWN_PER_REASON]
        for s in shown:
            lines.append(f"  {reason:<{width}}  {printable(display_path(s.path, spec))}: {printable(s.detail)}")
        if len(entries) > len(shown):
            lines.append(f"  {reason:<{width}}  ... and {len(entries) - len(shown):,} more (--verbose lists them all)")
    return lines
