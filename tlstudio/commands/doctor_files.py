"""`tlstudio doctor DATA --apply EDITS.json` and `tlstudio doctor --undo LOG`: edits done to the files, and undone."""
from __future__ import annotations

from pathlib import Path

from tlstudio.core.printable import printable

SHOWN = 5  # lines of notes or failures printed; the rest are counted


def apply(args, spec, reporter) -> int:
    from tlstudio.commands.console import cancel_on_sigint
    from tlstudio.core.dataset import disk_edits
    from tlstudio.core.dataset.edits import DatasetEdits

    edits = DatasetEdits.load(args.apply)
    disk_edits.check_layout(spec)
    log = Path(args.undo_log) if args.undo_log else disk_edits.default_log_path(spec)
    with cancel_on_sigint(reporter, "moving files"):
        result = disk_edits.apply_to_disk(spec, edits, log, reporter)
    _lines(reporter, result.plan.notes + result.failed)
    how = "Cancelled after moving" if result.cancelled else "Moved"
    reporter.note(f"{how} {len(result.moved)} of {len(result.plan.moves)} files "
                  f"({edits.describe()} in {printable(args.apply)}); nothing was deleted")
    if len(result.plan.kept):
        kept = log.with_name(log.stem + ".kept-edits.json")
        result.plan.kept.save(kept)
        reporter.note(f"{len(result.plan.kept)} edits are not in the files ({result.plan.kept.describe()}); "
                      f"they are in {printable(kept)}, for `tlstudio train --edits`")
    reporter.note(f"Undo log: {printable(log)}")
    reporter.note(f"To undo: tlstudio doctor --undo {printable(log)}")
    return 130 if result.cancelled else 1 if result.failed else 0


def undo(args, reporter) -> int:
    from tlstudio.core.dataset import disk_edits

    data = disk_edits.read_log(args.undo)
    # DATA, when given, must hold the folder the log changed (it may be a wrapper folder around it).
    if args.data and not Path(data["dataset"]).is_relative_to(Path(args.data).expanduser().absolute()):
        from tlstudio.cli import UserError

        raise UserError(f"{printable(args.undo)} undoes changes to {printable(data['dataset'])}, not {printable(args.data)}")
    result = disk_edits.undo(args.undo, reporter)
    _lines(reporter, result.problems)
    reporter.note(f"Moved {result.restored} files back"
                  + (f"; {len(result.problems)} left as they are (see above), run it again once solved"
                     if result.problems else ""))
    return 1 if result.problems else 0


def _lines(reporter, lines: list[str]) -> None:
    for line in lines[:SHOWN]:
        reporter.note(printable(line))
    if len(lines) > SHOWN:
        reporter.note(f"... and {len(lines) - SHOWN} more")
