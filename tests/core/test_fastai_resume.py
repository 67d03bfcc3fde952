"""fastai's `start_epoch` (issue #3780) and the guard that keeps our callbacks out of the skipped epochs."""
from __future__ import annotations

import fastai.callback.schedule  # noqa: F401  (fit_one_cycle)
import torch
from fastai.callback.core import Callback
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from fastai.learner import Learner, Recorder
from torch import nn

from tlstudio.core.project.fastai_resume import fit_one_cycle_from


class EpochsSeen(Callback):
    order = Recorder.order + 1  # as ReporterCallback: reads the record of the epoch

    def __init__(self):
        self.epochs, self.lrs = [], []

    def after_batch(self):  # the rate the step used (ParamScheduler sets it before each batch)
        if self.training:
            self.lrs.append((self.epoch, round(float(self.opt.hypers[-1]["lr"]), 12)))

    def after_epoch(self):
        self.epochs.append((self.epoch, len(self.recorder.values[-1])))


def _learner() -> Learner:
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = (x[:, 0] > 0).long()
    items = list(zip(x, y))
    dls = DataLoaders(DataLoader(items, bs=16, shuffle=True), DataLoader(items, bs=16))
    learn = Learner(dls, nn.Linear(4, 2), loss_func=nn.CrossEntropyLoss())
    learn.logger = lambda *args: None  # no epoch table on stdout
    return learn


def test_fastai_calls_after_epoch_for_skipped_epochs_with_an_empty_record():
    """What issue #3780 is: SaveModelCallback and EarlyStoppingCallback index that empty record."""
    seen = EpochsSeen()
    _learner().fit_one_cycle(4, 1e-2, cbs=[seen], start_epoch=2)
    assert seen.epochs == [(0, 0), (1, 0), (2, 2), (3, 2)]


def test_guarded_callbacks_see_only_the_epochs_that_run_and_the_schedule_continues():
    whole, resumed = EpochsSeen(), EpochsSeen()
    for cb, fit in ((whole, lambda l, cbs: l.fit_one_cycle(4, 1e-2, cbs=cbs)),
                    (resumed, lambda l, cbs: fit_one_cycle_from(l, 2, 4, 1e-2, cbs=cbs))):
        fit(_learner(), [cb])
    assert resumed.epochs == [(2, 2), (3, 2)]
    # The one-cycle schedule picks up at epoch 2, batch for batch.
    assert resumed.lrs == [lr for lr in whole.lrs if lr[0] >= 2]
    assert len(resumed.lrs) == 2 * 4
