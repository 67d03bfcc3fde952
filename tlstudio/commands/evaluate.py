"""`tlstudio evaluate MODEL DATA`: classification report and confusion matrix of an exported model.

The dataset is scanned with the seed and validation fraction recorded in the
model's sidecar (unless given), so a random split is the one it was trained with.
"""
from __future__ import annotations


def add_parser(subparsers) -> None:
    from tlstudio.commands.predict import add_trust_argument

    parser = subparsers.add_parser(
        "evaluate",
        help="measure an exported model on a dataset's validation or test split",
        description="Load a model file (.tlsmodel or .pkl) and print the classification report, "
        "the confusion matrix and the most confused pairs on one split of a dataset.",
    )
    parser.add_argument("model", help="model file (.tlsmodel or .pkl)")
    parser.add_argument("data", help="dataset folder, .zip or .csv")
    parser.add_argument("--split", choices=("valid", "test"), default="valid", help="which split (valid)")
    parser.add_argument("--valid-pct", type=float, help="validation fraction for a random split (default: as trained)")
    parser.add_argument("--test-pct", type=float, default=0.0, help="test fraction for a random split (0)")
    parser.add_argument("--seed", type=int, help="seed of the random split (default: as trained)")
    add_trust_argument(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from tlstudio.commands.console import ConsoleReporter, cancel_on_sigint, quiet_library_warnings

    quiet_library_warnings()
    from tlstudio.commands.predict import hold_trusted
    from tlstudio.core.dataset.scan import scan
    from tlstudio.core.errors import UserFacingError
    from tlstudio.core.events import Cancelled
    from tlstudio.core.jobs.delivery import EvaluateJob
    from tlstudio.core.jobs.host import run_here

    reporter = ConsoleReporter()
    model = hold_trusted(args)
    if model.format not in ("tlsmodel", "pkl"):
        raise UserFacingError(f"{args.model}: evaluate takes a .tlsmodel or .pkl (an .onnx or .pt holds no fastai model)")
    trained_on = (model.metadata or {}).get("dataset", {})
    valid_pct = args.valid_pct if args.valid_pct is not None else trained_on.get("valid_pct") or 0.2
    seed = args.seed if args.seed is not None else trained_on.get("seed") or 42
    spec = scan(args.data, valid_pct=valid_pct, test_pct=args.test_pct, seed=seed, reporter=reporter)
    unknown = sorted(set(spec.labels) - set(model.classes))
    if unknown:
        raise UserFacingError(
            f"{args.data}: classes the model does not know: {', '.join(unknown)} (it knows {', '.join(model.classes)})"
        )
    try:
        with cancel_on_sigint(reporter, "the evaluation"):
            result = run_here(EvaluateJob(model.model_id, spec, args.split), reporter)  # the window's job, here
    except Cancelled:
        reporter.note("Evaluation cancelled")
        return 130
    reporter.line(format_interpretation(result, model.path))
    return 0


def format_confusion(classes: list[str], confusion) -> str:
    corner = "actual \\ predicted"
    first = max(len(corner), *(len(c) for c in classes))
    width = max(*(len(c) for c in classes), len(str(int(confusion.max(initial=0)))))
    lines = [corner.ljust(first) + "".join(f"  {c:>{width}}" for c in classes)]
    for name, row in zip(classes, confusion):
        lines.append(name.ljust(first) + "".join(f"  {int(n):>{width}}" for n in row))
    return "\n".join(lines)


def format_interpretation(result, model_path) -> str:
    lines = [
        f"Model {model_path} on the {result.split} split: {len(result)} images, "
        f"accuracy {result.accuracy:.4f}, macro AUC {result.macro_auc:.4f}",
        "",
        result.report_text(),
        "Confusion matrix (rows: actual, columns: predicted)",
        format_confusion(result.classes, result.confusion),
    ]
    confused = result.most_confused()[:10]
    if confused:
        lines += ["", "Most confused (actual -> predicted: count)"]
        lines += [f"  {a} -> {p}: {n}" for a, p, n in confused]
    return "\n".join(lines)
