"""`tlstudio export MODEL OUT`: convert a model file to another format, verified.

The source is a `.tlsmodel` or a `.pkl` (this app's, or one passed with
`--trust`): the formats that hold a fastai learner. The copy is checked in
a fresh process on the validation images of the dataset the model records
(or on `--images`). Also home to the `--export` handling `train` shares.
"""
from __future__ import annotations

from pathlib import Path


def add_parser(subparsers) -> None:
    from tlstudio.commands.predict import add_trust_argument

    parser = subparsers.add_parser(
        "export",
        help="convert a model file to .tlsmodel, .pkl, .onnx or .pt, verified",
        description="Write MODEL (.tlsmodel or .pkl) as OUT, in the format OUT's suffix names "
        "(.tlsmodel, .pkl, .onnx, .pt), then reload OUT in a fresh process and compare predictions.",
    )
    parser.add_argument("model", help="the model to convert (.tlsmodel or .pkl)")
    parser.add_argument("out", help="the file to write (.tlsmodel, .pkl, .onnx or .pt)")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--images", nargs="+", metavar="IMAGE",
                        help="images (or folders) to verify on (default: the validation images of the model's dataset)")
    add_trust_argument(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from tlstudio.commands.console import ConsoleReporter, quiet_library_warnings
    from tlstudio.commands.predict import expand, hold_trusted
    from tlstudio.core.jobs.delivery import ExportJob
    from tlstudio.core.jobs.host import run_here

    quiet_library_warnings()
    reporter = ConsoleReporter()
    model = hold_trusted(args)  # held here as the window's engine holds it
    if model.format not in ("tlsmodel", "pkl"):
        from tlstudio.cli import UserError

        raise UserError(f"{args.model}: convert from a .tlsmodel or .pkl; an .onnx or .pt holds no fastai model")
    images = expand(args.images) if args.images else _dataset_images(model, reporter)
    report = run_here(ExportJob(model.model_id, Path(args.out), overwrite=args.force, images=images), reporter)
    if isinstance(report, Exception):  # the target cannot be written: the job hands the reason back
        raise report
    return _print_report(report, reporter)


def _dataset_images(model, reporter) -> list[Path]:
    """The validation images of the dataset the model was trained on, split as it was."""
    from tlstudio.cli import UserError
    from tlstudio.core.dataset.scan import scan

    trained_on = (model.metadata or {}).get("dataset") or {}
    root = trained_on.get("root")
    if not root or not Path(root).exists():
        raise UserError(f"{model.path}: the dataset it was trained on is not here ({root or 'not recorded'}); "
                        "pass --images to verify the copy on other images")
    spec = scan(root, valid_pct=trained_on.get("valid_pct") or 0.2, seed=trained_on.get("seed") or 42, reporter=reporter)
    return [Path(spec.items[i]) for i in spec.indices("valid")]


def _print_report(report, reporter) -> int:
    reporter.note(f"{report.path.name}: {report.message}")
    for f in (report.path, report.sidecar, *report.extra_files):
        reporter.note(f"  {f}")
    return 0 if report.verified else 1


def export_trained(trained, path, *, force: bool, reporter) -> int:
    """`train --export`: export the held model `trained` (a `jobs.training.TrainedModel`) with
    the window's `ExportJob`; if that fails, keep it as a .tlsmodel in the app's data folder and
    say where, so the run is not lost."""
    from datetime import datetime

    from tlstudio.core.delivery.target import models_folder
    from tlstudio.core.errors import UserFacingError
    from tlstudio.core.jobs.delivery import ExportJob
    from tlstudio.core.jobs.host import run_here

    # A Ctrl-C that stopped training asked for exactly this export: it must not cancel it too
    # (a second Ctrl-C still aborts, with the staging folder cleaned up).
    uncancelled = _Uncancelled(reporter)

    def export(to: Path, overwrite: bool):
        report = run_here(ExportJob(trained.model.id, to, spec=trained.spec, config=trained.config,
                                    metrics=trained.final_metrics, overwrite=overwrite), uncancelled)
        if isinstance(report, Exception):  # the target cannot be written: the job hands the reason back
            raise report
        return report

    try:
        report = export(Path(path), force)
    except (UserFacingError, OSError) as exc:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        keep = models_folder() / f"{Path(trained.spec.root).stem}-{trained.config.arch}-{stamp}.tlsmodel"
        reporter.note(f"Export to {path} failed: {exc}")
        report = export(keep, False)
        reporter.note(f"The trained model was saved instead as {keep} ({report.message}); "
                      f"convert it with `tlstudio export {keep} FILE`")
        return 1
    reporter.note(f"Model (epoch {trained.kept_epoch + 1}) {report.message}")  # numbered as the epoch table shows it
    for f in (report.path, report.sidecar, *report.extra_files):
        reporter.note(f"  {f}")
    return 0 if report.verified else 1


class _Uncancelled:
    def __init__(self, reporter):
        self.emit = reporter.emit

    def cancel_requested(self) -> bool:
        return False


def check_export_target(path, config, *, force: bool) -> None:
    """Before training: the `--export` target must be writable, with room, and new unless --force."""
    from tlstudio.core.delivery.target import check_target, estimated_bytes
    from tlstudio.core.models.registry import get_arch

    check_target(path, needed_bytes=estimated_bytes(get_arch(config.arch).params), overwrite=force)
