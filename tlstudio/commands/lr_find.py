"""`tlstudio lr-find DATA`: fastai's learning-rate finder with all four suggestions.

Without --unfreeze it probes stage 1 (head only, body frozen); with
--unfreeze N|all|auto it probes the state stage 2 trains in. --plot writes the
curve with the four markers as a PNG (matplotlib's Agg backend, no display).
"""
from __future__ import annotations

from tlstudio.commands.train import AUTO, add_model_args, config_from_args, load_dataset

HEAD_ONLY = 0  # no --unfreeze: probe stage 1 (a non-string default, so argparse leaves it alone)
SKIP_END = 5  # fastai's plot leaves out the last few points, where the loss explodes


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "lr-find",
        help="run the learning-rate finder and print its four suggestions",
        description="Run fastai's LR finder on a dataset (weights are restored afterwards) and print the "
        "valley, slide, minimum and steep suggestions. Ctrl-C stops early and reports what exists.",
    )
    add_model_args(parser)
    parser.set_defaults(unfreeze=HEAD_ONLY)
    parser.add_argument("--num-it", type=int, default=100, help="iterations of the sweep (100)")
    parser.add_argument("--plot", metavar="FILE.png", help="save the curve with the suggestions as a PNG")
    parser.set_defaults(run=run)


def run(args) -> int:
    from tlstudio.commands.console import ConsoleReporter, cancel_on_sigint, quiet_library_warnings

    quiet_library_warnings()
    from tlstudio.core.jobs.host import run_here
    from tlstudio.core.jobs.training import LrFindJob

    if args.num_it < 6:
        from tlstudio.cli import UserError

        raise UserError("--num-it must be at least 6")
    stage = 1 if args.unfreeze == HEAD_ONLY else 2
    reporter = ConsoleReporter()
    spec = load_dataset(args, reporter)
    depth = None if stage == 1 else _depth(args, spec, reporter)
    args.unfreeze = None if stage == 1 else depth
    config = config_from_args(args)
    with cancel_on_sigint(reporter, "the LR finder"):  # the window's job, here; config holds the depth
        result = run_here(LrFindJob(spec, config, stage, {"num_it": args.num_it}), reporter)
    reporter.line(format_result(result))
    if args.plot:
        path = save_plot(result, args.plot)
        reporter.note(f"Plot saved to {path}")
    return 130 if result.cancelled else 0


def _depth(args, spec, reporter) -> int | None:
    """--unfreeze auto: the recommendation for the dataset (the head's
    accuracy is not known before training, so it weighs size and compute)."""
    if args.unfreeze != AUTO:
        return args.unfreeze
    from tlstudio.core.models.registry import get_arch
    from tlstudio.core.training.advice import recommend_depth

    n = get_arch(args.arch).n_groups
    advice = recommend_depth(spec, n, on_gpu=args.device == "cuda")
    reporter.note(f"Unfreeze depth: {advice.reason}")
    return None if advice.value >= n else advice.value


def describe_stage(result) -> str:
    if result.stage == 1:
        return "stage 1: head only, body frozen"
    if result.depth is None:
        return "stage 2: all layer groups unfrozen"
    return f"stage 2: last {result.depth} layer group{'s' if result.depth != 1 else ''} unfrozen"


def format_result(result) -> str:
    lines = [f"LR finder ({describe_stage(result)}): {len(result.lrs)} steps"
             + (", cancelled early" if result.cancelled else "")]
    lines.append(f"  {'suggestion':<10}  {'learning rate':>13}  {'marker at':>10}  {'loss there':>10}")
    for s in result.suggestions:
        lines.append(f"  {s.name:<10}  {s.lr:>13.2e}  {s.point_lr:>10.2e}  {s.point_loss:>10.4f}")
    for name, reason in result.skipped:
        lines.append(f"  {name:<10}  {'-':>13}  (not computed: {reason})")
    return "\n".join(lines)


def save_plot(result, path):
    """The smoothed curve on a log axis with a marker per suggestion, like
    fastai's `plot_lr_find`, drawn without a display."""
    from pathlib import Path

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6.4, 4.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    end = len(result.lrs) - SKIP_END if len(result.lrs) > 2 * SKIP_END else len(result.lrs)
    ax.plot(result.lrs[:end], result.smooth_losses[:end], color="0.3", label="loss (smoothed)")
    for s, colour in zip(result.suggestions, ("tab:orange", "tab:green", "tab:red", "tab:purple")):
        ax.plot(s.point_lr, s.point_loss, "o", color=colour, label=f"{s.name}: {s.lr:.1e}")
    ax.set_xscale("log")
    ax.set_xlabel("Learning rate")
    ax.set_ylabel("Loss")
    ax.set_title(f"LR finder ({describe_stage(result)})")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    return path
