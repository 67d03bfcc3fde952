"""Apply an edit list to the files themselves, and undo it.

Only for datasets kept as folders per class (class folders, or train/valid/test
folders of class folders): a relabelled image moves to its new class's folder,
an image moved to another split to that split's folder (when every split comes
from folders), an excluded one into `_removed/` at the top of the dataset,
keeping its relative path. Nothing is deleted and nothing is overwritten: a
name already taken in the target folder gets " (2)", " (3)", ...

The undo log (JSON, written atomically) names every planned move and every
folder the moves will create before the first file moves, so whatever stops
the run, the log covers every file that may have moved. `undo(log)` moves the
files back, newest first, and removes the folders it created once empty: the
dataset is then as it was, path for path and byte for byte.

Edits the files cannot hold (a split change in a randomly split dataset, a
label that cannot be a folder name) are handed back, at the images' new paths,
to stay in the edit list.
"""
from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from tlstudio.core.atomic_files import atomic_write_text
from tlstudio.core.dataset.spec import DatasetError, DatasetSpec
from tlstudio.core.dataset.edits import DatasetEdits
from tlstudio.core.dataset.folders import REMOVED_FOLDER, is_hidden
from tlstudio.core.dataset.layouts import SPLIT_ALIASES
from tlstudio.core.events import NullReporter, Progress

LOG_FORMAT = "tlstudio-undo-log"
TASK = "Moving files"
FOLDER_LAYOUTS = ("class-folders", "split-folders")


@dataclass(frozen=True)
class Move:
    source: Path
    target: Path


@dataclass
class Plan:
    base: Path  # the folder the class (or split) folders lie in
    moves: list[Move] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)  # folders the moves create, parents first
    kept: DatasetEdits = field(default_factory=DatasetEdits)  # edits the files cannot hold, at the new paths
    notes: list[str] = field(default_factory=list)  # one line per edit left out, and why



@dataclass
class ApplyResult:
    log: Path
    plan: Plan  # its `kept`: the edits the files do not hold, at the images' paths after the moves
    moved: list[Move]  # the moves done, in order
    failed: list[str]  # one line per move that could not be done (its edits are kept)
    cancelled: bool = False  # the moves not done are kept as edits too


@dataclass
class UndoResult:
    restored: int
    problems: list[str]  # one line per file or folder left as it was, and why


def check_layout(spec: DatasetSpec) -> Path:
    """The dataset's folder, or DatasetError saying in one line why its files cannot be edited."""
    if spec.source_zip is not None:
        raise DatasetError(f"{spec.source_zip}: the images are inside a .zip; extract it and open the folder "
                           "to change its files (the edits stay in the edit list)")
    if spec.layout == "csv":
        raise DatasetError(f"{spec.root}: the labels come from a CSV file, not from class folders; "
                           "change the CSV to change them (the edits stay in the edit list)")
    if spec.layout not in FOLDER_LAYOUTS:
        raise DatasetError(f"{spec.root}: only datasets of class folders can be changed on disk")
    return Path(spec.data_dir or spec.root)


def folder_name_problem(label: str) -> str:
    """Why `label` cannot name a class folder, or "" when it can."""
    if not label.strip() or label != label.strip():
        return "a class folder's name cannot be empty or start or end with a space"
    if any(c in label for c in '/\\:\0') or label in (".", ".."):
        return f"'{label}' cannot be a folder name"
    if is_hidden(label) or label == REMOVED_FOLDER:
        return f"a folder named '{label}' would not be scanned"
    if label.lower() in SPLIT_ALIASES:
        return f"a class folder named '{label}' would be taken for a split folder"
    return ""


def plan(spec: DatasetSpec, edits: DatasetEdits) -> Plan:
    """Where each edited image goes; nothing on disk changes."""
    base = check_layout(spec)
    split_folders = spec.layout == "split-folders"
    folders_fix_splits = split_folders and spec.seed is None
    split_dir = _split_dirs(spec, base) if split_folders else {}
    result = Plan(base)
    taken: set[Path] = set()
    new_dirs: set[Path] = set()
    of = {item: (label, split) for item, label, split in zip(spec.items, spec.labels, spec.splits)}
    for path in sorted(edits.paths()):
        if path not in of:
            result.notes.append(f"{path}: not an image of this dataset; left out")
            continue
        label, split = of[path]
        rel = _relative(path, base)
        parts = rel.parts if rel is not None else ()
        depth = 2 if split_folders else 1
        if len(parts) <= depth or parts[depth - 1] != label:
            result.notes.append(f"{path}: not inside its class folder '{label}'; left as it is")
            _keep(result.kept, edits, path, path)
            continue
        relabel_done = False
        if path in edits.excluded:
            target = base / REMOVED_FOLDER / rel
        else:
            head = list(parts[:depth])
            new_label = edits.relabelled.get(path, label)
            if new_label != label:
                problem = folder_name_problem(new_label)
                if problem:
                    result.notes.append(f"{path}: not relabelled on disk: {problem}")
                    new_label = label
                relabel_done = new_label != label
            head[-1] = new_label
            new_split = edits.moved.get(path, split)
            if new_split != split and folders_fix_splits:
                head[0] = split_dir.get(new_split, new_split)
            target = base.joinpath(*head, *parts[depth:])
        moved = target != path
        if moved:
            target = _free_name(target, taken)
            taken.add(target)
            result.moves.append(Move(path, target))
            _plan_folders(target.parent, base, new_dirs, result.folders)
        _keep(result.kept, edits, path, target, label_done=path in edits.excluded or relabel_done,
              split_done=path in edits.excluded or folders_fix_splits)
    return result


def _keep(kept: DatasetEdits, edits: DatasetEdits, path: Path, new: Path,
          label_done: bool = False, split_done: bool = False) -> None:
    """What the files will not hold, for the image now at `new`."""
    if path in edits.excluded and not label_done:
        kept.exclude(new)
    if path in edits.relabelled and not label_done:
        kept.relabel(new, edits.relabelled[path])
    if path in edits.moved and not split_done:
        kept.move(new, edits.moved[path])


def _split_dirs(spec: DatasetSpec, base: Path) -> dict[str, str]:
    """The folder name each split already has ("val" for valid, ...)."""
    names: dict[str, str] = {}
    for item in spec.items:
        rel = _relative(item, base)
        if rel is not None and len(rel.parts) > 1 and rel.parts[0].lower() in SPLIT_ALIASES:
            names.setdefault(SPLIT_ALIASES[rel.parts[0].lower()], rel.parts[0])
    return names


def _relative(path: Path, base: Path) -> Path | None:
    try:
        return Path(path).relative_to(base)
    except ValueError:
        return None


def _free_name(target: Path, taken: set[Path]) -> Path:
    """`target`, or "name (2).png", "name (3).png", ... when it exists or another move takes it."""
    candidate, n = target, 1
    while candidate in taken or os.path.lexists(candidate):
        n += 1
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
    return candidate


def _plan_folders(folder: Path, base: Path, planned: set[Path], order: list[Path]) -> None:
    missing = []
    while folder != base and folder not in planned and not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for f in reversed(missing):
        planned.add(f)
        order.append(f)


def applied_spec(spec: DatasetSpec, result: ApplyResult) -> DatasetSpec:
    """The dataset as a scan will find it after `result`'s moves (the items
    under `_removed/` are no longer in it)."""
    base = result.plan.base
    removed = base / REMOVED_FOLDER
    new_path = {m.source: m.target for m in result.moved}
    rows = []
    for item, label, split, *rest in zip(spec.items, spec.labels, spec.splits,
                                         spec.sizes or [None] * len(spec), spec.modes or [None] * len(spec)):
        new = new_path.get(item, item)
        if _relative(new, removed) is not None:
            continue
        rel = _relative(new, base)
        if rel is not None and len(rel.parts) > 1:
            label = rel.parts[1 if spec.layout == "split-folders" else 0]
        rows.append((new, label, split, *rest))
    return replace(spec, items=[r[0] for r in rows], labels=[r[1] for r in rows], splits=[r[2] for r in rows],
                   classes=sorted({r[1] for r in rows}), sizes=[r[3] for r in rows] if spec.sizes else [],
                   modes=[r[4] for r in rows] if spec.modes else [])


def _write_log(path: Path, result: Plan, undone: bool = False) -> None:
    data = {
        "format": LOG_FORMAT,
        "dataset": str(result.base),
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "undone": undone,
        "folders": [str(f) for f in result.folders],
        "moves": [{"from": str(m.source), "to": str(m.target)} for m in result.moves],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False))


def apply_to_disk(spec: DatasetSpec, edits: DatasetEdits, log_path, reporter=None) -> ApplyResult:
    """Do `plan(spec, edits)`'s moves, the undo log at `log_path` written first.
    A cancel stops after the current move (the log still covers them all)."""
    reporter = reporter or NullReporter()
    log_path = Path(log_path)
    result = plan(spec, edits)
    _write_log(log_path, result)  # before any file moves: it names every move that may happen
    done: list[Move] = []
    failed: list[str] = []
    for folder in result.folders:
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise DatasetError(f"{folder}: cannot create the folder ({exc.strerror or exc}); "
                               f"nothing moved after that, undo with {log_path}") from None
    total = len(result.moves)
    cancelled = False
    for i, move in enumerate(result.moves):
        if reporter.cancel_requested():
            cancelled = True
        else:
            try:
                _move_no_replace(move.source, move.target)
                done.append(move)
                reporter.emit(Progress(TASK, i + 1, total))
                continue
            except OSError as exc:
                failed.append(f"{move.source}: not moved to {move.target} ({exc.strerror or exc})")
        result.kept.restore(move.target)  # not moved: all of its edits stay, at its old path
        _keep(result.kept, edits, move.source, move.source)
    return ApplyResult(log_path, result, done, failed, cancelled)


def _move_no_replace(source: Path, target: Path) -> None:
    """Rename `source` to `target`, never replacing a file already there: a
    hard link fails when the name is taken (os.rename would replace it);
    where links are not to be had, an existence check comes first."""
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        raise
    except (OSError, NotImplementedError):  # FAT, some network drives; Windows' rename never replaces
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "the name is taken", str(target)) from None
        os.rename(source, target)
        return
    os.unlink(source)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # a link whose file is gone
        return False


def read_log(path) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != LOG_FORMAT:
            raise ValueError("not an undo log of this app")
        [(str(m["from"]), str(m["to"])) for m in data["moves"]]
        [str(f) for f in data["folders"]]
        return data
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: cannot read the undo log ({exc})") from None


def undo(log_path, reporter=None) -> UndoResult:
    """Move every file the log names back, newest first, and remove the folders
    the apply created once they are empty. A file whose old name is taken
    again is left as it is and named; running it again, once that is solved,
    moves back what is left."""
    reporter = reporter or NullReporter()
    log_path = Path(log_path)
    data = read_log(log_path)
    if data.get("undone"):
        raise DatasetError(f"{log_path}: already undone")
    moves = [Move(Path(m["from"]), Path(m["to"])) for m in data["moves"]]
    restored, problems = 0, []
    for i, move in enumerate(reversed(moves)):
        there, back = os.path.lexists(move.target), os.path.lexists(move.source)
        if there and back and _same_file(move.source, move.target):
            os.unlink(move.target)  # stopped between the link and the unlink: one file, two names
        elif there and not back:
            try:
                _move_no_replace(move.target, move.source)
                restored += 1
            except OSError as exc:
                problems.append(f"{move.target}: not moved back to {move.source} ({exc.strerror or exc})")
        elif there:
            problems.append(f"{move.target}: not moved back, {move.source} exists again")
        reporter.emit(Progress("Moving files back", i + 1, len(moves)))
    for folder in reversed([Path(f) for f in data["folders"]]):
        try:
            folder.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            problems.append(f"{folder}: not removed, it is not empty")
    data["undone"] = not problems  # with problems left, it can be run again once they are solved
    atomic_write_text(log_path, json.dumps(data, indent=1, ensure_ascii=False))
    return UndoResult(restored, problems)


def default_log_path(spec: DatasetSpec) -> Path:
    """A new undo log in the app's data folder, named for the dataset and the time."""
    from tlstudio.core.app_dirs import data_dir

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(spec.root).name) or "dataset"
    return data_dir() / "undo" / f"{name}-{stamp}.json"
