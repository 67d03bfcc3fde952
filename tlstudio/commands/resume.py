"""`tlstudio resume DIR`: continue a project's last unfinished run from its last completed epoch.

The run continues with the schedule, optimizer state and random states its
checkpoint holds, so it ends as it would have without the interruption. A
run killed before its first epoch completed starts again. When the dataset
moved, `--data NEW` gives its new location (checked against the project's
fingerprint, then recorded).
"""
from __future__ import annotations


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "resume",
        help="continue a project's last unfinished run (killed, cancelled or failed)",
        description="Continue a run of a project from its last completed epoch, with the same schedule. "
        "Ctrl-C stops after the current batch, keeping the run resumable.",
    )
    parser.add_argument("project", metavar="DIR", help="the project folder (NAME.tlsproject)")
    parser.add_argument("--run", dest="run_number", type=int, metavar="N",
                        help="the run to continue (default: the last unfinished one)")
    parser.add_argument("--data", metavar="PATH", help="the dataset's new location, when it moved")
    parser.add_argument("--export", metavar="FILE", help="then export the model, format by suffix, verified")
    parser.add_argument("--force", action="store_true", help="let --export replace an existing file")
    parser.set_defaults(run=run)


def run(args) -> int:
    from tlstudio.commands.console import ConsoleReporter, cancel_on_sigint
    from tlstudio.commands.train import EXIT_CANCELLED, finish
    from tlstudio.core.jobs.host import run_here
    from tlstudio.core.jobs.project import ProjectResume
    from tlstudio.core.jobs.training import TrainJob
    from tlstudio.core.project.layout import project_dir

    reporter = ConsoleReporter()
    root = project_dir(args.project)  # fastai loads inside the job, once the folder is known to be a project
    with cancel_on_sigint(reporter):  # the spec and config are the run's own, from its folder
        trained = run_here(TrainJob(None, None, ProjectResume(str(root), args.run_number, args.data)), reporter)
    if trained is None:
        return EXIT_CANCELLED
    return finish(trained, args, reporter)
