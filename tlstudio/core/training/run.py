"""The training runner: stage 1 trains the head with the body frozen, stage 2
unfreezes to the chosen depth with discriminative learning rates.

The schedule follows fastai's `fine_tune` shape: stage 1 is
`fit_one_cycle(freeze_epochs, slice(stage1_lr), pct_start=0.99)`, stage 2 is
`fit_one_cycle(epochs, slice(base_lr / lr_mult, base_lr), pct_start=0.3,
div=5)`. One deliberate difference: `fine_tune` silently halves `base_lr`
before stage 2, whereas here stage 2's top rate is exactly `config.base_lr`, so
the rate a user picks (for instance from the LR finder after unfreezing) is the
rate that runs. `fine_tune(epochs, base_lr=b)` is reproduced exactly by
`TrainConfig(head_lr=b, base_lr=b / 2)`, and the defaults are fine_tune's own
(b = 2e-3).

Stage 1 runs on cached body features (core/features.py) when
`config.fast_head` is on and the features fit in memory; the rule and its
measured effect are in docs/benchmarks.md. A second difference from
fine_tune: in stage 2 the frozen groups are frozen whole, BatchNorm included
(fastai's `train_bn` off), which is what keeps the first unfrozen epoch from
collapsing after the fast head. Stage 2's depth is the user's or, with
`config.auto_depth`, the recommendation of core/model_choice.py. The run keeps
its best epoch by default (`config.keep_best`).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tlstudio.core.config import TrainConfig
from tlstudio.core.dataset.loaders import dropped_note, recording_decode_failures
from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.events import Cancelled, EpochEnd, FitEnd, Message, NullReporter, Reporter, StageStart, kept_metrics
from tlstudio.core.training.callbacks import ACCURACY_TIE, ReporterCallback, RunLog
from tlstudio.core.training.hooks import RunHooks

if TYPE_CHECKING:
    from fastai.learner import Learner

log = logging.getLogger(__name__)

STAGE1_PCT_START = 0.99  # fastai fine_tune's stage-1 schedule
STAGE2_PCT_START = 0.3
STAGE2_DIV = 5.0


@dataclass
class TrainResult:
    learn: "Learner"  # holds the weights of `kept_epoch`; can be evaluated and exported
    spec: DatasetSpec
    config: TrainConfig
    history: list[EpochEnd]  # every completed epoch, both stages
    status: str  # "completed" | "cancelled" | "failed"
    kept_epoch: int | None  # global epoch whose weights the learner holds (None: none completed)
    message: str  # one line for the user

    @property
    def dropped(self) -> tuple[str, ...]:
        """Images left out because they failed to decode (core/data.py)."""
        return self.history[-1].dropped if self.history else ()

    @property
    def final_metrics(self) -> dict[str, float]:
        """Metrics of the kept epoch (empty when no epoch completed)."""
        return kept_metrics(self.history, self.kept_epoch)


def make_metrics() -> list:
    """accuracy, error_rate and macro F1, named as the events report them."""
    from fastai.metrics import F1Score, accuracy, error_rate

    f1 = F1Score(average="macro")
    f1.name = "f1_macro"
    return [accuracy, error_rate, f1]


def _build_learner(dls, spec: DatasetSpec, config: TrainConfig, reporter: Reporter) -> "Learner":
    from tlstudio.core.dataset import imbalance
    from tlstudio.core.models.learner import build_learner

    extra = {}
    if config.imbalance == imbalance.LOSS_WEIGHTS:
        counts = spec.class_counts("train")
        extra["loss_func"] = imbalance.weighted_loss([counts.get(c, 0) for c in dls.vocab], dls.device)
    return build_learner(
        dls,
        config.arch,
        pretrained=config.pretrained,
        weights_file=config.weights_file,
        metrics=make_metrics(),
        reporter=reporter,
        **extra,
    )


def prepare_learner(
    spec: DatasetSpec, config: TrainConfig, reporter: Reporter | None = None, *, for_training: bool = True
) -> "Learner":
    """DataLoaders on the chosen device (reading the decode-once image cache
    when `config.image_cache` is on), the model with its pretrained weights
    and metrics, set up for the device (training/device_setup.py), body frozen.
    Seeded, so two calls with one seed agree. `for_training` False: the
    learner only predicts (no random crop positions are cached)."""
    from fastai.torch_core import set_seed

    from tlstudio.core.dataset import imbalance
    from tlstudio.core.dataset.loaders import make_dataloaders
    from tlstudio.core.training import device_setup, distributed
    from tlstudio.core.training.device import choose_device
    from tlstudio.core.training.image_reading import loader_options

    reporter = reporter or NullReporter()
    imbalance.check(config.imbalance)
    device = choose_device(config.device)
    distributed.setup(device)  # under torchrun: join its process group
    if config.seed is not None:
        set_seed(config.seed, reproducible=True)
    from tlstudio.core.models.registry import get_arch

    arch = get_arch(config.arch)
    options, images = loader_options(spec, config, device, reporter, for_training=for_training)
    # The statistics the pretrained weights were trained with (not ImageNet's
    # for every model: tf_efficientnet_lite0 expects 0.5 / 0.5).
    dls = make_dataloaders(
        spec,
        config.augment,
        bs=distributed.per_process_bs(config.bs),
        seed=config.seed,
        num_workers=config.num_workers,
        device=device,
        stats=(list(arch.mean), list(arch.std)),
        oversample=config.imbalance == imbalance.OVERSAMPLE,
        **options,
    )
    learn = _build_learner(dls, spec, config, reporter)
    reporter.emit(device_setup.set_up(learn, config, device, images))
    learn.freeze()
    return learn


def n_groups(learn: "Learner") -> int:
    if learn.opt is None:
        learn.create_opt()
    return len(learn.opt.param_lists)


def _peak_lrs(learn: "Learner", lr) -> tuple[float, ...]:
    """The top learning rate of each group for `lr` (a float or a slice), as
    fastai's optimizer spreads it."""
    learn.opt.set_hyper("lr", lr)
    return tuple(float(h["lr"]) for h in learn.opt.hypers)


def _check_depth(learn: "Learner", depth: int | None) -> None:
    """Reject a bad depth before any training, not after stage 1."""
    from tlstudio.core.models.groups import depth_to_freeze_to

    depth_to_freeze_to(depth, n_groups(learn))


def _stage1(learn: "Learner", config: TrainConfig, reporter: Reporter, run_log: RunLog, adapt_depth,
            hooks: RunHooks) -> None:
    """`adapt_depth`: the groups whose BatchNorm statistics the fast head's
    features take from this data (stage 2's depth; 0 when there is no stage 2)."""
    learn.freeze()
    lr = slice(config.stage1_lr)
    total = n_groups(learn)
    lrs = _peak_lrs(learn, lr)
    if config.fast_head and _stage1_on_features(learn, config, reporter, run_log, lrs, adapt_depth, hooks):
        return
    start = StageStart(1, "Head only (body frozen)", config.freeze_epochs, len(learn.dls.train), 1, total, lrs)
    hooks.fit_one_cycle(
        1, learn, config.freeze_epochs, lr, pct_start=STAGE1_PCT_START, cbs=[ReporterCallback(reporter, run_log, start)]
    )


def _stage1_on_features(learn, config, reporter, run_log, lrs, adapt_depth, hooks) -> bool:
    """Stage 1 on cached features; False when they would not fit in memory."""
    from tlstudio.core.training import distributed
    from tlstudio.core.training.features import cache_features, head_learner

    run_log.position = (1, None)
    with distributed.global_batch(learn):  # every rank caches all of it, as one process would
        features = cache_features(learn, reporter, adapt_depth=adapt_depth)
    if features is None:
        reporter.emit(Message("info", "Features too large to cache; training the head through the whole network"))
        return False
    head = head_learner(learn, features, make_metrics())
    start = StageStart(
        1, "Head only, on cached features (body frozen)", config.freeze_epochs, len(head.dls.train), 1, len(lrs), lrs
    )
    with head.no_bar(), head.no_logging(), distributed.ctx(head):
        hooks.fit_one_cycle(
            1,
            head,
            config.freeze_epochs,
            config.stage1_lr,
            pct_start=STAGE1_PCT_START,
            cbs=[ReporterCallback(reporter, run_log, start)],
        )
    return True


def _depth_advice(learn: "Learner", spec: DatasetSpec, run_log: RunLog | None = None):
    """recommend_depth for this learner; with `run_log`, knowing the head's accuracy."""
    from tlstudio.core.training.advice import recommend_depth

    head = [e for e in run_log.history if e.stage == 1] if run_log else []
    accuracy = head[-1].metrics.get("accuracy") if head else None
    return recommend_depth(spec, n_groups(learn), on_gpu=learn.dls.device.type == "cuda", head_accuracy=accuracy)


def planned_depth(learn: "Learner", spec: DatasetSpec, config: TrainConfig) -> int | None:
    """Stage 2's depth as known before stage 1 (None: all groups)."""
    if not config.auto_depth:
        return config.unfreeze_depth
    advice = _depth_advice(learn, spec)
    return None if advice.value >= n_groups(learn) else advice.value


def _stage2_depth(learn: "Learner", spec: DatasetSpec, config: TrainConfig, reporter: Reporter, run_log: RunLog):
    """The depth stage 2 trains: the user's, or with `auto_depth` the
    recommendation for this data, which now knows the head's accuracy (a head
    that separates the classes poorly unfreezes one group more)."""
    if not config.auto_depth:
        return config.unfreeze_depth
    advice = _depth_advice(learn, spec, run_log)
    reporter.emit(Message("info", f"Unfreeze depth chosen for this data: {advice.reason} (set a depth to override)"))
    return None if advice.value >= n_groups(learn) else advice.value


def _stage2(learn: "Learner", config: TrainConfig, reporter: Reporter, run_log: RunLog, hooks: RunHooks) -> None:
    """Stage 2 at `config.unfreeze_depth` (already resolved)."""
    from fastai.callback.training import BnFreeze

    from tlstudio.core.models.groups import depth_to_freeze_to

    total = n_groups(learn)
    n = depth_to_freeze_to(config.unfreeze_depth, total)
    # The frozen groups stay frozen whole: BatchNorm weights and statistics
    # too (fastai's train_bn off, and BnFreeze keeps their layers in eval
    # mode). With train_bn, batch statistics in the frozen groups changed the
    # features the head was fitted on, and the first unfrozen epoch collapsed
    # (docs/benchmarks.md, "Stage 2 after the fast head"); it also made every
    # backward pass run through the whole body.
    learn.train_bn = False
    learn.create_opt()
    learn.freeze_to(n)
    name = f"Last {-n} of {total} layer groups unfrozen" if n else f"All {total} layer groups unfrozen"
    lr = slice(config.base_lr / config.lr_mult, config.base_lr)
    lrs = _peak_lrs(learn, lr)
    trainable = total - learn.opt.frozen_idx
    start = StageStart(2, name, config.epochs, len(learn.dls.train), trainable, total, lrs)
    hooks.fit_one_cycle(
        2,
        learn,
        config.epochs,
        lr,
        pct_start=STAGE2_PCT_START,
        div=STAGE2_DIV,
        cbs=[ReporterCallback(reporter, run_log, start), BnFreeze()],
    )


def run(spec: DatasetSpec, config: TrainConfig, reporter: Reporter | None, learn: "Learner | None" = None,
        hooks: RunHooks | None = None) -> TrainResult:
    """Both stages. Never raises for a cancel or a failure inside training: the
    result says what happened and the learner holds usable weights. `hooks`
    (core/run_hooks.py) save the run as it goes, or resume it."""
    from fastai.torch_core import set_seed

    from tlstudio.core.dataset.cached_loader import cache_failures
    from tlstudio.core.training import distributed

    reporter = distributed.agreed_cancel(reporter or NullReporter())
    if learn is None:
        learn = prepare_learner(spec, config, reporter)
    if not config.auto_depth:
        _check_depth(learn, config.unfreeze_depth)
    if config.seed is not None:
        set_seed(config.seed, reproducible=True)
    run_log = RunLog(learn.model, keep_best=config.keep_best, patience=config.early_stopping_patience)
    run_log.dropped.update(cache_failures(learn.dls))  # found while the image cache was built
    hooks = hooks or RunHooks()
    hooks.attach(run_log)
    error = ""
    try:
        with learn.no_bar(), learn.no_logging(), recording_decode_failures(run_log.dropped), distributed.ctx(learn):
            start1 = hooks.start_epoch(1)
            if config.freeze_epochs > 0 and start1 is not None:
                # A resumed stage 1 has its BatchNorm statistics from the checkpoint already.
                planned = planned_depth(learn, spec, config) if config.epochs > 0 and not start1 else 0
                _stage1(learn, config, reporter, run_log, adapt_depth=planned, hooks=hooks)
            if not run_log.cancelled and config.epochs > 0 and hooks.start_epoch(2) is not None:
                run_log.stopped_early = False  # early stopping ends a stage; stage 2 still runs
                depth = _stage2_depth(learn, spec, config, reporter, run_log)
                config = config.with_(unfreeze_depth=depth, auto_depth=False)  # the result says what ran
                _stage2(learn, config, reporter, run_log, hooks)
    except Cancelled:
        run_log.cancelled = True
    except Exception as exc:  # a failed run still hands back the last good weights
        error = distributed.lost_peer(exc)  # under torchrun: no traceback for a rank that ended
        if not error:
            log.exception("training failed")
            error = _one_line(exc)
    status = "failed" if error else "cancelled" if run_log.cancelled else "completed"
    kept = run_log.restore(finished=status == "completed")
    if status != "failed":  # a failed rank ends the run; its peers may be gone
        kept = distributed.agree(learn.model, kept)
    message = _summary(status, run_log, kept, error) + dropped_note(spec, run_log.dropped)
    reporter.emit(FitEnd(status=status, error=error, kept_epoch=kept, detail=message))
    return TrainResult(learn, spec, config, list(run_log.history), status, kept, message)


def _one_line(exc: Exception) -> str:
    """fastai prefixes a callback's error with a line naming the callback; the
    user needs the original message, which is its last line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}".rstrip(": ")


# People count epochs from 1, everywhere (epoch tables, plots, CLI, summary);
# events keep fastai's 0-based indices and only the words add 1.
def _where(run_log: RunLog, epoch: int) -> str:
    e = next(e for e in run_log.history if e.global_epoch == epoch)
    return f"epoch {epoch + 1} (stage {e.stage} epoch {e.epoch + 1}, {_scores(e)})"


def _scores(e: EpochEnd) -> str:
    accuracy = e.metrics.get("accuracy")
    return f"valid loss {e.valid_loss:.4g}" + (f", accuracy {accuracy:.3f}" if accuracy is not None else "")


def _why(run_log: RunLog, kept: int, status: str) -> str:
    last = run_log.history[-1]
    last_word = "the last epoch" if status == "completed" else "the last completed epoch"
    if not run_log.keep_best:
        return last_word
    rule = _kept_for(run_log, kept)
    if kept == last.global_epoch:
        return f"{rule}, and {last_word}"
    return f"{rule}; {last_word}, epoch {last.global_epoch + 1}, ended at {_scores(last)}"


def _kept_for(run_log: RunLog, kept: int) -> str:
    """Why keep-best chose epoch `kept`, in the words of its rule (callbacks._better)."""
    e = next(e for e in run_log.history if e.global_epoch == kept)
    accuracy = e.metrics.get("accuracy")
    if accuracy is None or not math.isfinite(accuracy):
        return "the lowest validation loss"
    tied = sum(1 for h in run_log.history if abs(h.metrics.get("accuracy", math.nan) - accuracy) <= ACCURACY_TIE)
    if tied > 1:
        return f"the highest validation accuracy, and the lowest validation loss of the {tied} epochs that reached it"
    return "the highest validation accuracy"


def _summary(status: str, run_log: RunLog, kept: int | None, error: str) -> str:
    stage, epoch = run_log.position
    at = f"stage {stage} epoch {epoch + 1}" if epoch is not None else f"stage {stage} while caching features"
    head = {
        "completed": f"Completed {len(run_log.history)} epochs",
        "cancelled": f"Cancelled in {at}",
        "failed": f"Failed in {at}: {error}",
    }[status]
    if status == "completed" and run_log.stopped_early:
        head += " (stopped early)"
    if kept is None:
        return f"{head}; no epoch completed, the model keeps its starting weights"
    return f"{head}; kept {_where(run_log, kept)}: {_why(run_log, kept, status)}"
