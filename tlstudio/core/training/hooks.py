"""The points where a training run can be watched, saved and resumed.

`training.run` calls these at its stage boundaries; the default does
nothing, so a plain run is fastai's recipe unchanged. A project's run
(core/project/run_hooks.py) writes a checkpoint after every completed epoch
and, when resuming, starts each stage where its checkpoint left off. This
module imports nothing heavy, so `training` can import it freely.
"""
from __future__ import annotations


class RunHooks:
    """No-op hooks: every stage from its first epoch, nothing saved."""

    def attach(self, run_log) -> None:
        """The run's `RunLog`, created; a resumed run fills it from its checkpoint."""

    def start_epoch(self, stage: int) -> int | None:
        """The epoch `stage` starts at (0: from the beginning), or None when the
        stage already ran to its end before the run was interrupted."""
        return 0

    def fit_one_cycle(self, stage: int, learn, n_epoch: int, lr, *, cbs: list, **kwargs) -> None:
        """Run one stage's `fit_one_cycle` on `learn` (the fast head's learner in
        stage 1 on cached features)."""
        learn.fit_one_cycle(n_epoch, lr, cbs=cbs, **kwargs)
