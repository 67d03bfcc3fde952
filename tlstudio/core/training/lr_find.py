"""fastai's learning-rate finder as plain data: the whole curve and all four suggestions.

`run_lr_find` runs `learn.lr_find` in the learner's current freeze state, so
the same learner can be probed again after `freeze_to(-depth)`. `find_lr`
probes stage 1 on cached body features when the fast head is on, since that
is what stage 1 then trains. fastai's
`LRFinder` saves the weights before the mock training and loads them back in
`after_fit`, which fastai calls on a normal end and on a cancel alike; we point
that temporary file at a private temp folder instead of `learn.path/models`,
which may sit next to the user's data.

Cancel: when the reporter asks to stop, the finder stops after the current
batch, the weights are restored, and the function RETURNS a partial result
with `cancelled=True` (whatever curve exists, suggestions computed where the
curve allows). It does not raise.
"""
from __future__ import annotations

import functools
import math
import tempfile
from pathlib import Path

import numpy as np
from fastai.callback.core import Callback, CancelFitException
from fastai.callback.schedule import minimum, slide, steep, valley

from tlstudio.core.events import Cancelled, LrFindProgress, LrFindResult, LrSuggestion, Message, NullReporter

SUGGESTION_FUNCS = (valley, slide, minimum, steep)


class LrFindReporting(Callback):
    """Per-call callback: records raw losses, emits progress, honours cancel.

    Runs after `Recorder` (order 50), which has just stored this batch's lr and
    smoothed loss, and before `LRFinder` (order 60), which may end the fit in
    the same `after_batch`; so every recorded point gets its raw loss too."""

    order = 55

    def __init__(self, reporter, num_it: int):
        self.reporter, self.num_it = reporter, num_it
        self.raw_losses: list[float] = []
        self.cancelled = False

    def before_batch(self):
        if self.training and self.reporter.cancel_requested():
            self.cancelled = True
            raise CancelFitException()

    def after_batch(self):
        if not self.training or len(self.yb) == 0:
            return
        loss = float(self.learn.loss.detach())
        self.raw_losses.append(loss)
        rec = self.learn.recorder
        self.reporter.emit(
            LrFindProgress(iteration=len(self.raw_losses), total=self.num_it, lr=float(rec.lrs[-1]), loss=float(rec.losses[-1]))
        )
        if self.reporter.cancel_requested():
            self.cancelled = True
            raise CancelFitException()


def _recording(func, found: list[LrSuggestion], skipped: list[tuple[str, str]]):
    """Wrap a fastai suggestion function so its marker point is kept (fastai
    returns only the rates) and a curve too short or too flat for it skips that
    one suggestion with a reason instead of failing the whole run."""

    @functools.wraps(func)
    def wrapper(lrs, losses, num_it):
        try:
            if len(losses) < 2:
                raise ValueError(f"only {len(losses)} usable points on the curve")
            lr, (x, y) = func(lrs, losses, num_it)
            lr, x, y = float(lr), float(x), float(y)
            if not all(math.isfinite(v) for v in (lr, x, y)):
                raise ValueError("the curve gave no finite value")
        except Exception as exc:  # fastai's suggestion functions index blindly
            skipped.append((func.__name__, _reason(exc, len(losses))))
            return math.nan, (math.nan, math.nan)
        found.append(LrSuggestion(name=func.__name__, lr=lr, point_lr=x, point_loss=y))
        return lr, (x, y)

    return wrapper


def _reason(exc: Exception, n_points: int) -> str:
    if isinstance(exc, IndexError):
        return f"the curve is too short, {n_points} usable points"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def run_lr_find(
    learn,
    reporter=None,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10,
    num_it: int = 100,
    stage: int = 1,
    depth: int | None = None,
) -> LrFindResult:
    """Run fastai's LR finder on `learn` as it is frozen now; the weights are
    restored afterwards, bit for bit, also when cancelled.

    `stage`/`depth` only label the result (the caller sets the freeze state).
    Suggestions that fastai cannot compute on this curve are left out and
    listed in `result.skipped` with the reason (and a warning Message)."""
    reporter = reporter or NullReporter()
    cb = LrFindReporting(reporter, num_it)
    found: list[LrSuggestion] = []
    skipped: list[tuple[str, str]] = []
    funcs = tuple(_recording(f, found, skipped) for f in SUGGESTION_FUNCS)
    old_path, old_model_dir = learn.path, learn.model_dir
    # fastai restores the weights in LRFinder.after_fit, which a cancel reaches
    # but an error (NaN, out of memory) does not; this copy covers that case.
    before = {k: v.detach().clone() for k, v in learn.model.state_dict().items()}
    with tempfile.TemporaryDirectory(prefix="tlstudio-lrfind-") as tmp:
        learn.path, learn.model_dir = Path(tmp), "models"
        try:
            with learn.no_bar(), learn.added_cbs([cb]):
                learn.lr_find(
                    start_lr=start_lr, end_lr=end_lr, num_it=num_it, show_plot=False, suggest_funcs=funcs
                )
        except BaseException:
            learn.model.load_state_dict(before)
            raise
        finally:
            learn.path, learn.model_dir = old_path, old_model_dir
    rec = learn.recorder
    n = len(cb.raw_losses)
    lrs = np.asarray(rec.lrs[:n], dtype=np.float64)
    smooth = np.asarray(rec.losses[:n], dtype=np.float64)
    for name, reason in skipped:
        reporter.emit(Message("warning", f"LR finder: no '{name}' suggestion on this curve ({reason})"))
    return LrFindResult(
        lrs=lrs,
        losses=np.asarray(cb.raw_losses, dtype=np.float64),
        smooth_losses=smooth,
        suggestions=tuple(found),
        stage=stage,
        depth=depth,
        cancelled=cb.cancelled,
        skipped=tuple(skipped),
    )


def find_lr(
    spec,
    config,
    *,
    unfreeze_depth: int | None = None,
    stage: int = 1,
    reporter=None,
    learn=None,
    num_it: int = 100,
    **sweep,
) -> LrFindResult:
    """The LR finder for one stage of `config`'s recipe.

    Builds the learner with `training.prepare_learner` unless one is given.
    Stage 1 probes the head with the body frozen, and when `config.fast_head`
    is on it probes it as stage 1 trains it: on cached body features (seconds,
    not a pass through the whole network per step). Stage 2 probes the whole
    network after `freeze_to(-unfreeze_depth)` (None: `unfreeze()`), the state
    stage 2 of training will be in. The freeze state is left as set here.
    `num_it` and `sweep` (start_lr, end_lr) go on to `run_lr_find`."""
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, not {stage!r}")
    if learn is None:
        from tlstudio.core.training.run import prepare_learner

        learn = prepare_learner(spec, config, reporter)
    if stage == 1:
        learn.freeze()
        if not config.fast_head:
            return run_lr_find(learn, reporter, stage=1, depth=1, num_it=num_it, **sweep)
        # Caching adapts BatchNorm statistics as training does; all of it is undone.
        before = {k: v.detach().clone() for k, v in learn.model.state_dict().items()}
        try:
            head = _head_on_features(learn, spec, config, reporter)
            return run_lr_find(head or learn, reporter, stage=1, depth=1, num_it=num_it, **sweep)
        except Cancelled:  # while caching: nothing probed
            return LrFindResult(*(np.empty(0),) * 3, suggestions=(), stage=1, depth=1, cancelled=True, skipped=())
        finally:
            learn.model.load_state_dict(before)
    if unfreeze_depth is None:
        learn.unfreeze()
    else:
        learn.freeze_to(-unfreeze_depth)
    return run_lr_find(learn, reporter, stage=stage, depth=unfreeze_depth, num_it=num_it, **sweep)


def _head_on_features(learn, spec, config, reporter):
    """The fast head's own Learner on the features training caches (its
    modules are `learn`'s head), or None when they would not fit in memory."""
    from tlstudio.core.training.features import cache_features, head_learner
    from tlstudio.core.training.run import make_metrics, planned_depth

    depth = planned_depth(learn, spec, config) if config.epochs > 0 else 0
    features = cache_features(learn, reporter or NullReporter(), adapt_depth=depth)
    if features is None:
        return None
    return head_learner(learn, features, make_metrics())
