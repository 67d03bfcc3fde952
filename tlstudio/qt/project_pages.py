"""Every page's choices as project.json's `pages`, and back; a run's history drawn on the Train page.

What the pages hold lives mostly in `state.train_config` (split share and seed,
augmentation, architecture, depth, rates, stages, keep-best, imbalance); the
rest is each page's own: the LR finder's curves and the stage shown, the
Evaluate page's split, the Export page's path and format, the model the runs
start from (when one of your own), the page on screen, the project's current
run, and the dataset's edit list (paths relative to the dataset, so it follows
the dataset when it moves).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tlstudio.core.dataset.edits import DatasetEdits
from tlstudio.core.events import BatchEnd, EpochEnd, LrFindResult, LrSuggestion, StageStart
from tlstudio.core.project.config_json import config_from_dict, config_to_dict

VERSION = 1


def lr_result_to_dict(r: LrFindResult) -> dict:
    return {
        "stage": r.stage, "depth": r.depth, "cancelled": r.cancelled,
        "lrs": np.asarray(r.lrs, float).tolist(), "losses": np.asarray(r.losses, float).tolist(),
        "smooth_losses": np.asarray(r.smooth_losses, float).tolist(),
        "suggestions": [[s.name, s.lr, s.point_lr, s.point_loss] for s in r.suggestions],
        "skipped": [list(s) for s in r.skipped],
    }


def lr_result_from_dict(d: dict) -> LrFindResult:
    return LrFindResult(
        lrs=np.asarray(d["lrs"], float), losses=np.asarray(d["losses"], float),
        smooth_losses=np.asarray(d["smooth_losses"], float),
        suggestions=tuple(LrSuggestion(str(n), float(a), float(b), float(c)) for n, a, b, c in d["suggestions"]),
        stage=int(d["stage"]), depth=None if d.get("depth") is None else int(d["depth"]),
        cancelled=bool(d.get("cancelled", False)), skipped=tuple((str(a), str(b)) for a, b in d.get("skipped", ())),
    )


def collect_pages(window) -> dict:
    """The window's choices, as JSON values."""
    state, pages = window.state, window.pages
    lr, export, evaluate = pages["lr"], pages["export"], pages["evaluate"]
    # Only when chosen: a project saved before there was a choice reads as unchanged.
    model = {} if pages["model"].start_from is None else {"model": {"start_from": pages["model"].start_from}}
    return {
        **model,
        "version": VERSION,
        "config": config_to_dict(state.train_config),
        "lr": {"stage": lr.stage(), "status": lr.status.text(),
               "results": [lr_result_to_dict(r) for _, r in sorted(lr.results.items())]},
        "evaluate": {"split": evaluate.current_split()},
        "export": {"path": export.path_edit.text(), "format": export.current_format()},
        "run": state.project.run,
        "edits": edits_to_pages(state),
        "window": {"page": window.current_page_key()},
    }


def edits_to_pages(state) -> dict | None:
    if state.dataset is None:
        return None
    return state.edits.to_dict(base=state.dataset.images_dir)


def apply_edits(state, pages: dict) -> None:
    """The project's edit list replaces the one kept for the dataset in the app's data folder
    (a project saved before it kept edits has none: the kept one stays)."""
    data = pages.get("edits")
    if state.dataset is None or data is None:
        return
    try:
        edits = DatasetEdits.from_dict(data, base=state.dataset.images_dir)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        state.status_message.emit(f"The project's edit list could not be read ({exc}); the dataset opens "
                                  "with the edits kept for it on this machine")
        return
    state.replace_edits(edits)


def changed_since_save(window) -> bool:
    """Choices differ from what project.json holds (the page on screen does not count)."""
    saved = window.state.project.saved_pages
    if saved is None:
        return False
    now = collect_pages(window)
    # A project saved before projects kept edits holds none.
    saved = {"edits": DatasetEdits().to_dict(), **saved}
    return {k: v for k, v in now.items() if k != "window"} != {k: v for k, v in saved.items() if k != "window"}


def apply_pages(window, pages: dict, source: Path) -> None:
    """Set every page's choices from `pages` (after the project's dataset is open)."""
    state = window.state
    if isinstance(pages.get("config"), dict):
        state.set_train_config(config_from_dict(pages["config"], source))
    start_from = (pages.get("model") or {}).get("start_from")
    window.pages["model"].set_start_from(start_from if isinstance(start_from, str) else None)
    apply_edits(state, pages)
    lr_pages = pages.get("lr") or {}
    results = {r.stage: r for r in map(lr_result_from_dict, lr_pages.get("results", ()))}
    window.pages["lr"].restore(results, int(lr_pages.get("stage", 1)), str(lr_pages.get("status", "")))
    apply_export_page(window, pages)
    combo = window.pages["evaluate"].split_combo
    index = combo.findData((pages.get("evaluate") or {}).get("split"))
    if index >= 0:
        combo.blockSignals(True)
        combo.setCurrentIndex(index)
        combo.blockSignals(False)
    page = (pages.get("window") or {}).get("page")
    if page in window.pages:
        window.show_page(page)


def apply_export_page(window, pages: dict) -> None:
    """The Export page's format and path; again once the run's model is back (a new model
    resets the path)."""
    export = window.pages["export"]
    export_pages = pages.get("export") or {}
    index = export.format_combo.findData(export_pages.get("format"))
    if index >= 0:
        export.format_combo.setCurrentIndex(index)
    if export_pages.get("path"):
        export.path_edit.setText(str(export_pages["path"]))


def show_run_history(train_page, history) -> None:
    """Draw a finished run's curves and epoch table on the Train page, as they were live."""
    curves, table = train_page.curves, train_page.table
    curves.reset()
    table.reset()
    b = history.batches
    epochs = {(e.stage, e.epoch): e for e in history.epochs}
    shown_stages, last_epoch = set(), None
    for i in range(len(b)):
        stage, epoch = int(b.stage[i]), int(b.epoch[i])
        if stage not in shown_stages:
            shown_stages.add(stage)
            curves.start_stage(StageStart(stage, "", 0, 0, 0, 0, ()))
        if last_epoch is not None and last_epoch != (stage, epoch) and last_epoch in epochs:
            _add_epoch(train_page, epochs.pop(last_epoch))
        last_epoch = (stage, epoch)
        curves.add_batch(BatchEnd(stage, epoch, 0, 0, int(b.iteration[i]), float(b.smooth_loss[i]), float(b.lr[i]), 0.0))
    for e in sorted(epochs.values(), key=lambda e: e.global_epoch):  # the last one, and any without batches
        if e.stage not in shown_stages:
            shown_stages.add(e.stage)
            curves.start_stage(StageStart(e.stage, "", 0, 0, 0, 0, ()))
        _add_epoch(train_page, e)
    table.mark_kept(history.kept_epoch)
    curves.flush()


def _add_epoch(train_page, e: EpochEnd) -> None:
    train_page.curves.add_epoch(e)
    train_page.table.add_epoch(e)
