"""`tlstudio train DATA`: fastai's transfer-learning recipe from the command line.

Stage 1 trains the head with the body frozen, stage 2 unfreezes to the chosen
depth with discriminative learning rates; `--lr auto` takes the LR finder's
valley suggestion first. The run keeps its best epoch (highest validation accuracy)
unless `--no-keep-best`. Ctrl-C stops after the current batch, keeps the best
completed epoch and still exports it when `--export` was given (exit status
130); a second Ctrl-C aborts. `--project DIR` trains a new run of that
project (created if new), checkpointed after every epoch so `tlstudio resume`
can continue it; `--from MODEL` starts from your own model's body.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from tlstudio.commands.console import ConsoleReporter
from tlstudio.core.config import AUGMENT_PRESETS, TrainConfig

DEFAULTS = TrainConfig()
EXIT_CANCELLED = 130


AUTO = "auto"


def unfreeze_depth(text: str) -> int | str | None:
    """--unfreeze: a number of layer groups counted from the head, "all", or
    "auto" (the recommendation for the data)."""
    if text.lower() == "all":
        return None
    if text.lower() == AUTO:
        return AUTO
    try:
        depth = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of layer groups, 'all' or 'auto', not {text!r}") from None
    if depth < 1:
        raise argparse.ArgumentTypeError("the depth must be at least 1 (the head)")
    return depth


def learning_rate(text: str) -> float | str:
    if text.lower() == "auto":
        return "auto"
    try:
        lr = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a learning rate such as 2e-3, not {text!r}") from None
    if not 0 < lr < 10:
        raise argparse.ArgumentTypeError(f"a learning rate must lie between 0 and 10, not {lr}")
    return lr


def batch_size(text: str) -> int | str:
    """--bs: a number, or "auto" (on CUDA, what the free GPU memory allows)."""
    if text.lower() == AUTO:
        return AUTO
    try:
        bs = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a batch size or 'auto', not {text!r}") from None
    if bs < 1:
        raise argparse.ArgumentTypeError("the batch size must be at least 1")
    return bs


def positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """Options shared by `train` and `lr-find`: data, model, input pipeline."""
    parser.add_argument("data", help="dataset folder, .zip or .csv")
    parser.add_argument("--allow-absolute-paths", action="store_true",
                        help="a CSV you wrote may name files outside its folder (absolute or ../ paths)")
    parser.add_argument("--arch", default=DEFAULTS.arch, help=f"architecture (default {DEFAULTS.arch}; see `tlstudio models`)")
    parser.add_argument("--size", type=int, default=DEFAULTS.augment.size, help=f"input size in pixels ({DEFAULTS.augment.size})")
    parser.add_argument("--bs", type=batch_size, default=DEFAULTS.bs, metavar="N|auto",
                        help=f"batch size ({DEFAULTS.bs}); auto: on a CUDA GPU, the largest its free memory allows")
    parser.add_argument("--augment", choices=sorted(AUGMENT_PRESETS), default="fastai default",
                        help="augmentation preset (fastai default)")
    parser.add_argument("--unfreeze", type=unfreeze_depth, default=AUTO, metavar="N|all|auto",
                        help="stage 2 trains the last N layer groups, or all of them; auto: the depth recommended "
                        "for the dataset's size and the head's accuracy, printed before stage 2 (auto)")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help=f"random seed ({DEFAULTS.seed})")
    parser.add_argument("--valid-pct", type=float, default=DEFAULTS.valid_pct,
                        help=f"validation fraction when the data has no valid/ folder ({DEFAULTS.valid_pct})")
    parser.add_argument("--weights", metavar="FILE", help="pretrained weights (.pth) for --arch instead of the bundled ones")
    parser.add_argument("--no-pretrained", action="store_true", help="start from random weights")
    parser.add_argument("--device", default=DEFAULTS.device, choices=("auto", "cpu", "cuda", "mps"),
                        help="where to train (auto: CUDA, then MPS, then CPU)")
    parser.add_argument("--image-cache", action=argparse.BooleanOptionalAction, default=DEFAULTS.image_cache,
                        help="decode and resize each image once into a cache file and train from it "
                        f"(default: {'on' if DEFAULTS.image_cache else 'off'})")
    parser.add_argument("--image-cache-max-gb", type=float, default=DEFAULTS.image_cache_max_gb, metavar="GB",
                        help="disk budget for image caches; a larger one is not made "
                        f"({DEFAULTS.image_cache_max_gb:g})")
    parser.add_argument("--imbalance", default=DEFAULTS.imbalance, choices=("none", "loss_weights", "oversample"),
                        help="for imbalanced classes: loss_weights weighs each class's loss by the inverse of its "
                        "training count, oversample draws the small classes' images more often (none)")
    parser.add_argument("--edits", metavar="EDITS.json",
                        help="an edit list (excluded, relabelled or moved images, as the window or "
                        "`tlstudio doctor` keep them) applied to the dataset before training; the files stay as they are")


def config_from_args(args) -> TrainConfig:
    augment = AUGMENT_PRESETS[args.augment].with_(size=args.size)
    changes = dict(
        arch=args.arch,
        augment=augment,
        bs=DEFAULTS.bs if args.bs == AUTO else args.bs,
        auto_bs=args.bs == AUTO,
        image_cache=args.image_cache,
        image_cache_max_gb=args.image_cache_max_gb,
        unfreeze_depth=None if args.unfreeze == AUTO else args.unfreeze,
        auto_depth=args.unfreeze == AUTO,
        seed=args.seed,
        valid_pct=args.valid_pct,
        weights_file=Path(args.weights) if args.weights else None,
        pretrained=not args.no_pretrained,
        device=args.device,
        imbalance=args.imbalance,
    )
    for name in ("freeze_epochs", "epochs", "fast_head", "keep_best"):
        if hasattr(args, name):
            changes[name] = getattr(args, name)
    if isinstance(getattr(args, "lr", None), float):
        changes.update(fine_tune_rates(args.lr))
    return DEFAULTS.with_(**changes)


def fine_tune_rates(lr: float) -> dict:
    """`--lr` means what it means to fastai's `fine_tune(base_lr=lr)`: the head
    trains at lr, and the unfrozen network's top rate is lr / 2."""
    return {"head_lr": lr, "base_lr": lr / 2}


def load_dataset(args, reporter):
    from tlstudio.commands.console import print_dataset
    from tlstudio.core.dataset.scan import scan

    spec = scan(args.data, valid_pct=args.valid_pct, seed=args.seed if args.seed is not None else 42, reporter=reporter,
                allow_outside=args.allow_absolute_paths)
    if getattr(args, "edits", None):
        spec = apply_edits(args.edits, spec, reporter)
    print_dataset(reporter, spec)
    return spec


def apply_edits(path, spec, reporter):
    """The dataset with the edit list at `path` applied, saying what it changed."""
    from tlstudio.core.dataset.edits import DatasetEdits
    from tlstudio.core.printable import printable

    edits = DatasetEdits.load(path)
    unmatched = edits.unmatched(spec)
    note = f"Edits from {printable(path)}: {edits.describe()}"
    if unmatched:
        note += (f"; {len(unmatched)} name{'s' if len(unmatched) == 1 else ''} no image of this dataset and "
                 f"{'is' if len(unmatched) == 1 else 'are'} ignored (e.g. {printable(unmatched[0])})")
    reporter.note(note)
    return edits.apply(spec)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a classifier: frozen head, then unfrozen to a depth",
        description="Train an image classifier with fastai's transfer-learning recipe. "
        "Ctrl-C stops after the current batch and keeps the best completed epoch.",
    )
    add_model_args(parser)
    parser.add_argument("--freeze-epochs", type=positive_int, default=DEFAULTS.freeze_epochs,
                        help=f"stage 1 epochs, body frozen ({DEFAULTS.freeze_epochs})")
    parser.add_argument("--epochs", type=positive_int, default=DEFAULTS.epochs, help=f"stage 2 epochs ({DEFAULTS.epochs})")
    parser.add_argument("--lr", type=learning_rate, default=DEFAULTS.stage1_lr, metavar="auto|VALUE",
                        help="base learning rate, as fastai's fine_tune takes it: stage 1 at LR, stage 2 up to LR/2; "
                        f"or 'auto' for the LR finder's valley suggestion ({DEFAULTS.stage1_lr})")
    parser.add_argument("--no-fast-head", dest="fast_head", action="store_false",
                        help="train stage 1 through the whole network instead of on cached features")
    parser.add_argument("--keep-best", action=argparse.BooleanOptionalAction, default=DEFAULTS.keep_best,
                        help="keep the epoch with the highest validation accuracy, the lower loss breaking a tie; "
                        "--no-keep-best keeps the last (default: keep the best)")
    parser.add_argument("--export", metavar="FILE",
                        help="export the model, format by suffix (.tlsmodel, .pkl, .onnx, .pt), verified by reloading it")
    parser.add_argument("--force", action="store_true", help="let --export replace an existing file")
    parser.add_argument("--project", metavar="DIR",
                        help="train a new run of the project DIR (NAME.tlsproject, created if new): "
                        "checkpointed after every epoch, resumable with `tlstudio resume DIR`")
    parser.add_argument("--from", dest="from_model", metavar="MODEL",
                        help="start from your own model (a .tlsmodel or a project's run folder): its body and "
                        "layer groups, with a new head for this dataset's classes; --arch is then the model's")
    parser.set_defaults(run=run)


def run(args) -> int:
    from tlstudio.commands.console import cancel_on_sigint

    reporter = _reporter()
    spec = load_dataset(args, reporter)
    config = config_from_args(args)
    start = _starting_model(args, reporter)
    if start is not None:
        from tlstudio.core.project.starting_model import config_for

        config = config_for(config, start)
    project = _project(args, spec, reporter)
    if args.export:
        from tlstudio.commands.export import check_export_target

        check_export_target(args.export, config, force=args.force)  # before training, not after
    from tlstudio.core.jobs.host import run_here  # fastai loads inside the job, once the input is known to be good
    from tlstudio.core.jobs.training import TrainJob

    target = CommandLineRun(start, args.lr == "auto", project.root if project is not None else None,
                            scan_settings(args))
    with cancel_on_sigint(reporter):
        trained = run_here(TrainJob(spec, config, target), reporter)  # the window's job, here
    if trained is None:
        return EXIT_CANCELLED
    return finish(trained, args, reporter)


def finish(trained, args, reporter) -> int:
    """After `train` or `resume`: say how the run ended (and where a project keeps it), then
    `--export` it. The exit status: 0 completed, 130 cancelled, 1 failed or not verified."""
    from tlstudio.core.training import distributed

    reporter.note(trained.message)
    if trained.saved is not None:
        reporter.note(saved_note(trained.saved))
    status = {"completed": 0, "cancelled": EXIT_CANCELLED}.get(trained.status, 1)
    distributed.teardown()
    if args.export and distributed.is_rank0():
        if trained.kept_epoch is None:
            reporter.note(f"Not exported: no epoch completed, so {args.export} would hold an untrained model")
        else:
            from tlstudio.commands.export import export_trained

            with distributed.solo():
                status = max(status, export_trained(trained, args.export, force=args.force, reporter=reporter))
    return status


@dataclass(frozen=True)
class CommandLineRun:
    """`train`'s `TrainJob` target: the learner (ImageNet's, or `start`'s body with a new head),
    `--lr auto`'s finder on that same learner, then the run, into the project at `project` when
    given. None when the finder was cancelled: nothing trained."""

    start: object | None  # project.starting_model.StartingModel
    auto_lr: bool
    project: Path | None
    scan: object  # project.dataset_ref.ScanSettings

    def __call__(self, spec, config, reporter):
        from tlstudio.core.training import distributed
        from tlstudio.core.training import run as training

        if self.start is None:
            learn = training.prepare_learner(spec, config, reporter)
        else:
            from tlstudio.core.project.starting_model import learner_from_model

            learn = learner_from_model(spec, config, self.start, reporter)
        if self.auto_lr:
            config = distributed.from_rank0(lambda: _auto_lr(spec, learn, config, reporter), learn)
            if config is None:
                return None
        if self.project is None:
            return training.run(spec, config, reporter, learn=learn)
        from tlstudio.core.project.train_run import train_in_project

        return train_in_project(self.project, spec, config, reporter, scan=self.scan, start=self.start, learn=learn)


def scan_settings(args):
    from tlstudio.core.project.dataset_ref import ScanSettings

    return ScanSettings(valid_pct=args.valid_pct, seed=args.seed if args.seed is not None else 42,
                        allow_outside=args.allow_absolute_paths)


def _starting_model(args, reporter):
    if not args.from_model:
        return None
    from tlstudio.core.project.starting_model import starting_model

    start = starting_model(args.from_model)
    reporter.note(f"Starting from {start.label}: {start.architecture}, trained on {start.trained_on} "
                  f"({len(start.classes)} classes); its body and {len(start.layer_groups)} layer groups, a new head")
    return start


def _project(args, spec, reporter):
    """The project `--project` names, created or checked before anything trains."""
    if not args.project:
        return None
    from tlstudio.cli import UserError
    from tlstudio.core.training import distributed
    from tlstudio.core.project.layout import project_dir
    from tlstudio.core.project.train_run import project_for

    if distributed.world_size() > 1:
        raise UserError("--project does not run under torchrun yet; train in one process, or leave --project out")
    return project_for(project_dir(args.project), spec, scan_settings(args), reporter)


def saved_note(outcome) -> str:
    """Where a project's run now lies, and what it holds."""
    held = [f.name for f in (outcome.model_file, outcome.evaluation_file) if f is not None]
    resumable = "" if outcome.status == "completed" else f"; continue it with `tlstudio resume {outcome.project}`"
    return f"Run {outcome.run:03d} saved in {outcome.folder}" + (f" ({', '.join(held)})" if held else "") + resumable


def _reporter() -> ConsoleReporter:
    """The console; under torchrun only rank 0's, the other ranks print errors alone."""
    from tlstudio.core.training import distributed

    return ConsoleReporter() if distributed.is_rank0() else _ErrorsOnlyReporter(live=False)


class _ErrorsOnlyReporter(ConsoleReporter):
    def line(self, text: str = "") -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def _on_Message(self, e) -> None:
        if e.level == "error":
            self._rank_note(f"error: {e.text}")

    def _on_FitEnd(self, e) -> None:
        if e.status == "failed":
            self._rank_note(e.detail)

    def _rank_note(self, text: str) -> None:
        from tlstudio.core.training import distributed

        print(f"process {distributed.rank()}: {text}", file=self.err, flush=True)


def _auto_lr(spec, learn, config: TrainConfig, reporter) -> TrainConfig | None:
    from tlstudio.core.training.lr_find import find_lr

    found = find_lr(spec, config, stage=1, learn=learn, reporter=reporter)
    if found.cancelled:
        reporter.note("LR finder cancelled; nothing trained")
        return None
    names = {s.name for s in found.suggestions}
    if "valley" not in names:
        reporter.note(f"LR finder gave no valley suggestion; using the default {config.stage1_lr:.2e}")
        return config
    valley = found.suggestion("valley").lr
    reporter.note(f"LR finder: valley suggests {valley:.2e}; training with it (stage 2 up to {valley / 2:.2e})")
    return config.with_(**fine_tune_rates(valley))
