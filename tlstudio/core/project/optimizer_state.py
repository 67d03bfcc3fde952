"""A fastai optimizer's state (moments, step counts, per-group hyper-parameters) as tensors and JSON.

fastai keeps one dict per parameter (`Optimizer.state_dict()['state']`, in
`all_params()` order) and one dict of hyper-parameters per layer group;
tensors go to the checkpoint's safetensors under `opt/<index>/<name>`, the
rest (ints, floats, flags) to its JSON.
"""
from __future__ import annotations

import numbers

import torch

from tlstudio.core.project.layout import ProjectError

PREFIX = "opt/"


def _plain(value, where: str):
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise ProjectError(f"the optimizer's state holds a {type(value).__name__} at {where}, which a checkpoint cannot store")


def optimizer_state(opt) -> tuple[dict, dict]:
    sd = opt.state_dict()
    plain, tensors = [], {}
    for i, state in enumerate(sd["state"]):
        row = {}
        for name, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{PREFIX}{i}/{name}"] = value.detach().cpu().contiguous().clone()
            else:
                row[name] = _plain(value, f"parameter {i}, {name}")
        plain.append(row)
    hypers = [{k: _plain(v, f"group {g}, {k}") for k, v in h.items()} for g, h in enumerate(sd["hypers"])]
    return {"state": plain, "hypers": hypers}, tensors


def load_optimizer_state(opt, data: dict, tensors: dict, source) -> None:
    params = [p for p, *_ in opt.all_params()]
    try:
        plain, hypers = data["state"], data["hypers"]
    except (KeyError, TypeError):
        raise ProjectError(f"{source}: its optimizer state is damaged") from None
    if len(plain) != len(params) or len(hypers) != len(opt.param_lists):
        raise ProjectError(f"{source}: its optimizer state is for another model "
                           f"({len(plain)} parameters in {len(hypers)} groups, this one has {len(params)} in "
                           f"{len(opt.param_lists)})")
    states = [dict(row) for row in plain]
    for key, value in tensors.items():
        if key.startswith(PREFIX):
            index, name = key[len(PREFIX):].split("/", 1)
            i = int(index)
            states[i][name] = value.to(params[i].device)
    opt.load_state_dict({"state": states, "hypers": [dict(h) for h in hypers]})
