"""Training in several processes (torchrun) with fastai's own `distrib_ctx`.

`torchrun --nproc_per_node N -m tlstudio train DATA ...` starts N copies of the
command; torchrun's environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT) says which one this is. Without it every function here is a
no-op and a run is the single process it always was.

- `--bs` is the GLOBAL batch: each process loads `bs / world_size` images per
  step, so a run means the same with any number of processes and a
  single-process run with the same `--bs` is its reference.
- Every fit of the whole network, and the fast head's fit on cached features,
  runs inside `learn.distrib_ctx` (DistributedDataParallel: gradients are
  averaged, so all ranks take the same steps). The features themselves are
  computed by every rank over the whole training set (a deterministic pass
  with the validation transforms), so the fast head needs no exchange of
  features; fastai's DistributedDL gives each rank its share of them.
- Validation metrics are gathered over all ranks by fastai, so keep-best and
  early stopping decide alike everywhere; after the run rank 0's kept weights
  are broadcast anyway (`agree`), so the ranks cannot end up different.
- Work that is not data-parallel (the LR finder, `--export` and its
  verification) runs on rank 0 alone inside `solo()`, and what it decides is
  broadcast (`from_rank0`).
- Ctrl-C (torchrun passes it on to every rank) stops all ranks after the same
  batch (`agreed_cancel`); rank 0 still exports the kept epoch.
- A rank that dies ends the others: torchrun stops them (SIGTERM, answered with
  one line by `_on_sigterm`), a collective whose peer vanished fails, and a
  peer that hangs fails every collective after TIMEOUT.
"""
from __future__ import annotations

import os
import signal
from contextlib import contextmanager, nullcontext
from datetime import timedelta

from tlstudio.core.errors import UserFacingError

# A rank waits at most this long in one collective: the longest wait is the
# others' LR finder, which rank 0 runs alone before training.
TIMEOUT = timedelta(minutes=10)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", 1))


def rank() -> int:
    return int(os.environ.get("RANK", 0))


def is_rank0() -> bool:
    return rank() == 0


def per_process_bs(bs: int) -> int:
    """Each process's share of the global batch `bs`."""
    n = world_size()
    if bs % n:
        raise UserFacingError(f"--bs {bs} does not split evenly over {n} processes (it is the batch of all of them)")
    return bs // n


def setup(device) -> None:
    """Join torchrun's process group (gloo on the CPU, nccl on CUDA) with
    TIMEOUT, one thread per process unless OMP_NUM_THREADS says otherwise,
    and fastai's DistributedDL fixed for the CPU. Safe to call twice."""
    import torch
    import torch.distributed as dist

    if world_size() <= 1 or dist.is_initialized():
        return
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT)
    _fix_fastai_broadcast()
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum, frame):
    # torchrun sends SIGTERM to the other ranks when one has failed or was
    # killed. SystemExit, not os._exit: `finally` blocks still remove temp files.
    raise SystemExit(f"tlstudio: process {rank()} of {world_size()} stopped: {PEER_LOST}")


def lost_peer(exc: BaseException) -> str:
    """The one line for an error that only says another rank is gone (its
    socket closed, or it stopped answering for TIMEOUT); "" for any other."""
    import torch.distributed as dist

    text = str(exc)
    if world_size() > 1 and (isinstance(exc, dist.DistError) or any(s in text for s in _LOST_PEER_SIGNS)):
        return f"{PEER_LOST} ({_gloo_reason(text)})"
    return ""


PEER_LOST = "another process of this run ended"
_LOST_PEER_SIGNS = ("Connection reset by peer", "Connection closed by peer", "Timed out", "timed out")


def _gloo_reason(text: str) -> str:
    """"Connection reset by peer" out of gloo's "[.../pair.cc:545] Read error [addr]: Connection reset by peer. ..."."""
    line = text.strip().splitlines()[-1] if text.strip() else ""
    line = line.split("] ")[-1] if "] " in line else line
    return line.split(". ")[0].split(": ")[-1].strip() or "lost contact"


def _fix_fastai_broadcast() -> None:
    """fastai 2.8.12's `DistributedDL._broadcast` (fastai/distributed.py) puts
    the index list it shares on `.cuda()` unconditionally ("nccl only works
    with cuda tensors"), which fails with gloo on a machine without CUDA. The
    tensor goes to the device the process group's backend works on instead."""
    from fastai.distributed import DistributedDL

    def _broadcast(self, t, rank):
        import torch

        t = torch.tensor(t, dtype=torch.long, device=_collective_device())
        torch.distributed.broadcast(t, rank)
        return t.cpu().tolist()

    DistributedDL._broadcast = _broadcast


def _collective_device():
    import torch
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def ctx(learn):
    """fastai's `distrib_ctx` for `learn` when running under torchrun, else nothing.

    sync_bn off: SyncBatchNorm needs CUDA, and it would replace the model's
    BatchNorm layers for good (the exported model, and BnFreeze, which only
    knows plain BatchNorm). Each rank's BatchNorm sees its share of the batch."""
    if world_size() <= 1:
        return nullcontext()
    return _distributed(learn)


@contextmanager
def _distributed(learn):
    from fastai.distributed import DistributedTrainer
    from torch.nn.parallel import DistributedDataParallel

    with learn.distrib_ctx(sync_bn=False, cpu=learn.dls.device.type == "cpu"):
        try:
            yield learn
        finally:
            # fastai unwraps the model in `after_fit`, which an error skips.
            trainer = next((cb for cb in learn.cbs if isinstance(cb, DistributedTrainer)), None)
            if trainer is not None and isinstance(learn.model, DistributedDataParallel):
                trainer.after_fit()


@contextmanager
def global_batch(learn):
    """`learn`'s training loader at the global batch, for work that one rank
    does over all of the data (feature caching, the LR finder), so that it
    sees the batches a single-process run sees."""
    dl = learn.dls.train
    bs = dl.bs
    dl.bs = bs * world_size()
    try:
        yield
    finally:
        dl.bs = bs


@contextmanager
def solo():
    """fastai treats this process as the only one (its `num_distrib` and
    `rank_distrib` read WORLD_SIZE and RANK): no gathering across ranks, and
    fastai's own temporary saves (the LR finder's) happen here too."""
    saved = {k: os.environ.get(k) for k in ("WORLD_SIZE", "RANK")}
    os.environ.update(WORLD_SIZE="1", RANK="0")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def from_rank0(func, learn=None):
    """`func()` run on rank 0 alone, in `solo` (with `learn`, if given, at the
    global batch); every rank gets its result."""
    if world_size() <= 1:
        return func()
    import torch.distributed as dist

    box = [None]
    if is_rank0():
        with global_batch(learn) if learn is not None else nullcontext(), solo():
            box[0] = func()
    dist.broadcast_object_list(box, src=0)
    return box[0]


def agreed_cancel(reporter):
    """`reporter`, with a cancel request (Ctrl-C reaches each rank at its own
    moment) holding for every rank at the same check: the ranks then stop
    after the same batch instead of one waiting for the other's gradients.
    Every rank asks equally often during a run, so asking is a collective."""
    return reporter if world_size() <= 1 else _AgreedCancel(reporter)


class _AgreedCancel:
    def __init__(self, reporter):
        self.reporter = reporter
        self.emit = reporter.emit

    def cancel_requested(self) -> bool:
        import torch
        import torch.distributed as dist

        asked = self.reporter.cancel_requested()
        if world_size() <= 1 or not dist.is_initialized():  # in solo(): rank 0 alone
            return asked
        flag = torch.tensor([int(asked)], device=_collective_device())
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())


def agree(model, kept_epoch):
    """Every rank ends with rank 0's weights and kept epoch."""
    if world_size() <= 1:
        return kept_epoch
    import torch.distributed as dist

    for t in model.state_dict().values():
        dist.broadcast(t, src=0)
    box = [kept_epoch]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def teardown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
