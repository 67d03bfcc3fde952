"""fastai's `fit_one_cycle(..., start_epoch=k)`, with the per-call callbacks kept out of the skipped epochs.

fastai issue #3780: `start_epoch` adds `SkipToEpoch`, which skips each
earlier epoch by raising `CancelEpochException` from `before_epoch`; fastai
still calls every callback's `after_epoch` for it, with an empty record.
`SaveModelCallback` and `EarlyStoppingCallback` then fail with an IndexError
(`recorder.values[-1][idx]`), and our ReporterCallback would log an epoch
that never ran. Keep-best and early stopping carry their own state in the
RunLog (core/callbacks.py), so they need neither fastai callback; this is
the one place that works around the issue: a guard, first in fastai's order,
switches the given callbacks off (fastai's `Callback.run`, which fastai
itself resets after the fit) for every epoch before `start_epoch`.
"""
from __future__ import annotations

from fastai.callback.core import Callback


class SkippedEpochGuard(Callback):
    order = -100  # before any other callback's before_epoch

    def __init__(self, start_epoch: int, guarded: list):
        self.start_epoch, self.guarded = start_epoch, list(guarded)

    def before_epoch(self):
        running = self.epoch >= self.start_epoch
        for cb in self.guarded:
            cb.run = running


def fit_one_cycle_from(learn, start_epoch: int, n_epoch: int, lr, *, cbs: list, **kwargs) -> None:
    """`learn.fit_one_cycle(n_epoch, lr, start_epoch=start_epoch)`: the schedule
    continues where epoch `start_epoch` begins, and `cbs` see only the epochs that run."""
    guard = SkippedEpochGuard(start_epoch, cbs)
    learn.fit_one_cycle(n_epoch, lr, cbs=[guard, *cbs], start_epoch=start_epoch, **kwargs)
