"""A context in which nothing can be unpickled: `pickle.load(s)`, `pickle.Unpickler` and `torch.load(weights_only=False)` raise."""
from __future__ import annotations

import contextlib
import pickle


class Unpickled(AssertionError):
    pass


@contextlib.contextmanager
def no_pickle():
    import torch

    saved = pickle.load, pickle.loads, pickle.Unpickler, torch.load
    real_torch_load = torch.load

    def refuse(*args, **kwargs):
        raise Unpickled("something tried to unpickle")

    def torch_load(*args, weights_only=None, **kwargs):
        if weights_only is not True:
            raise Unpickled("torch.load without weights_only=True")
        return real_torch_load(*args, weights_only=True, **kwargs)

    pickle.load = pickle.loads = refuse
    pickle.Unpickler = refuse
    torch.load = torch_load
    try:
        yield
    finally:
        pickle.load, pickle.loads, pickle.Unpickler, torch.load = saved
