"""Checkpoint after every completed epoch, and resume from the last one.

`CheckpointingHooks` are the RunHooks (core/run_hooks.py) of a project's
run. Each stage's `fit_one_cycle` gets a `CheckpointCallback`, which runs
after the ReporterCallback has logged the epoch in the RunLog and writes the
checkpoint (core/project/checkpoint.py) then: once per epoch, never per
batch. Resuming, the hooks fill the RunLog from the checkpoint, skip a
finished stage, and start the interrupted one at its next epoch with the
optimizer's state and every random generator as they were, through
`fit_one_cycle(..., start_epoch=k)` (fastai_resume.py), so the learning-rate
schedule continues where it was.
"""
from __future__ import annotations

import torch
from fastai.callback.core import Callback

from tlstudio.core.training.callbacks import ReporterCallback
from tlstudio.core.project import rng_state
from tlstudio.core.project.checkpoint import (
    BATCHES,
    MODEL,
    Checkpoint,
    best_name,
    checkpoint_dir,
    write_best,
    write_checkpoint,
)
from tlstudio.core.project.config_json import config_to_dict
from tlstudio.core.project.fastai_resume import fit_one_cycle_from
from tlstudio.core.project.history import epoch_from_dict, epoch_to_dict
from tlstudio.core.project.layout import ProjectError
from tlstudio.core.project.optimizer_state import load_optimizer_state, optimizer_state
from tlstudio.core.training.hooks import RunHooks


class CheckpointCallback(Callback):
    order = ReporterCallback.order + 1  # the epoch is in the RunLog by now

    def __init__(self, hooks: "CheckpointingHooks", stage: int):
        self.hooks, self.stage = hooks, stage

    def after_epoch(self):
        self.hooks.save(self.stage, self.learn, stage_done=self.epoch + 1 >= self.n_epoch)

    def after_cancel_fit(self):
        # Early stopping raises from the ReporterCallback's after_epoch, so
        # ours did not run for the epoch that stopped the stage.
        log = self.hooks.run_log
        if log.stopped_early and not log.cancelled:
            self.hooks.save(self.stage, self.learn, stage_done=True)


def _cpu(state: dict, prefix: str = "") -> dict:
    # Copies: safetensors refuses tensors that share storage.
    return {prefix + k: v.detach().cpu().contiguous().clone() for k, v in state.items()}


class CheckpointingHooks(RunHooks):
    def __init__(self, run_folder, learn, config, recorder, resume: Checkpoint | None = None):
        self.folder = checkpoint_dir(run_folder)
        self.learn, self.config, self.recorder = learn, config, recorder
        self.resume = resume
        self.run_log = None
        self._restore_pending = resume is not None
        self._saved_epoch = resume.global_epoch if resume else None
        self._best_written = _best_epoch_in_file(resume)

    # RunHooks
    def attach(self, run_log) -> None:
        self.run_log = run_log
        cp = self.resume
        if cp is None:
            return
        where = cp.folder
        try:
            run_log.model.load_state_dict(cp.model_state(), strict=True)
        except RuntimeError as exc:
            raise ProjectError(f"{where}: the checkpoint's weights do not fit this model "
                               f"({str(exc).splitlines()[0][:200]})") from None
        history = [epoch_from_dict(d, where) for d in cp.run["history"]]
        best = cp.run["best"]
        weights = cp.best_state()
        if weights is None:
            weights = {k: v.detach().clone() for k, v in run_log.model.state_dict().items()}
        else:
            device = next(run_log.model.parameters()).device
            weights = {k: v.to(device) for k, v in weights.items()}
        run_log.resume_from(history, iteration=int(cp.run["iteration"]),
                            best=(int(best["epoch"]), (float(best["loss"]), float(best["accuracy"])), weights))
        run_log.stopped_early = bool(cp.run["stopped_early"])
        run_log.dropped.update(cp.run.get("dropped", {}))

    def start_epoch(self, stage: int) -> int | None:
        cp = self.resume
        if cp is None or stage > cp.stage:
            return 0
        if stage < cp.stage or cp.stage_done:
            return None
        return cp.epoch + 1

    def fit_one_cycle(self, stage: int, learn, n_epoch: int, lr, *, cbs: list, **kwargs) -> None:
        cbs = [*cbs, CheckpointCallback(self, stage)]
        start = self.start_epoch(stage)
        if self._restore_pending:
            self._restore_pending = False
            self._restore(stage, learn, start)
        if start:
            fit_one_cycle_from(learn, start, n_epoch, lr, cbs=cbs, **kwargs)
        else:
            learn.fit_one_cycle(n_epoch, lr, cbs=cbs, **kwargs)

    # resume
    def _restore(self, stage: int, learn, start: int) -> None:
        """Before the first fit of a resumed run: the optimizer's state when
        the stage continues, and every random generator as the checkpoint left it."""
        cp = self.resume
        loaders = {"main.train": self.learn.dls.train, "main.valid": self.learn.dls.valid}
        if start:
            if cp.on_features != (learn is not self.learn):
                raise ProjectError(f"{cp.folder}: the checkpoint's stage 1 trained "
                                   f"{'on cached features' if cp.on_features else 'through the whole network'}, "
                                   "and this run cannot do the same")
            if learn.opt is None:
                learn.create_opt()
            load_optimizer_state(learn.opt, cp.optimizer, cp.tensors, cp.folder)
            loaders = {"fit.train": learn.dls.train, "fit.valid": learn.dls.valid, **loaders}
        rng_state.restore(cp.rng, cp.tensors, loaders, cp.folder)
        self.resume.tensors = {}  # loaded where they belong; the memory is the model's again

    # saving
    def save(self, stage: int, learn, *, stage_done: bool) -> None:
        log = self.run_log
        last = log.history[-1]
        if self._saved_epoch is not None and last.global_epoch <= self._saved_epoch:
            return
        opt_json, tensors = optimizer_state(learn.opt)
        rng_json, rng_tensors = rng_state.capture({
            "fit.train": learn.dls.train, "fit.valid": learn.dls.valid,
            "main.train": self.learn.dls.train, "main.valid": self.learn.dls.valid,
        })
        tensors.update(rng_tensors)
        tensors.update(_cpu(log.model.state_dict(), MODEL))
        batches = self.recorder.batches()
        tensors.update({f"{BATCHES}{name}": torch.from_numpy(getattr(batches, name).copy())
                        for name in ("iteration", "stage", "epoch", "smooth_loss", "lr")})
        best_epoch, (best_loss, best_accuracy), best_weights = log.best_state()
        best_file = None
        if self.config.keep_best and best_epoch != last.global_epoch:
            if self._best_written != best_epoch:
                write_best(self.folder, best_epoch, best_weights)
                self._best_written = best_epoch
            best_file = best_name(best_epoch)
        checkpoint = Checkpoint(
            stage=stage,
            epoch=last.epoch,
            stage_done=stage_done,
            on_features=learn is not self.learn,
            config=config_to_dict(self._resolved_config(stage, learn)),
            run={
                "history": [epoch_to_dict(e) for e in log.history],
                "iteration": log.iteration,
                "stopped_early": log.stopped_early,
                "dropped": dict(log.dropped),
                "best": {"epoch": best_epoch, "loss": best_loss, "accuracy": best_accuracy, "file": best_file},
            },
            rng=rng_json,
            optimizer=opt_json,
            tensors=tensors,
        )
        write_checkpoint(self.folder, checkpoint)
        self._saved_epoch = last.global_epoch

    def _resolved_config(self, stage: int, learn):
        """In stage 2, the depth that runs (an automatic depth is chosen after stage 1)."""
        if stage != 2:
            return self.config
        frozen, total = learn.opt.frozen_idx, len(learn.opt.param_lists)
        return self.config.with_(unfreeze_depth=None if frozen == 0 else total - frozen, auto_depth=False)


def _best_epoch_in_file(cp: Checkpoint | None) -> int | None:
    if cp is None or not cp.run["best"].get("file"):
        return None
    return int(cp.run["best"]["epoch"])
