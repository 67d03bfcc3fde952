"""Writers, one per model format; each writes one file to the path it is given.

- `.tlsmodel`: model_file.py (safetensors + JSON, no pickle).
- `.pkl`: fastai's `Learner.export` of a learner built only from fastai and
  torch pieces (the registry's torch modules, fastai's default splitter, the
  pipeline of inference_data.py), so plain fastai `load_learner` opens it
  where tlstudio is not installed.
- `.onnx`, `.pt`: the network with a softmax on top (they output
  probabilities) for a batch of any size; the preprocessing lives in the
  sidecar, and standalone_predict.py (written beside them as predict.py)
  applies it.
"""
from __future__ import annotations

import contextlib
import copy
import io
import warnings
from importlib import resources
from pathlib import Path

STANDALONE_NAME = "predict.py"
ONNX_OPSET = 18


def write_model(fmt: str, learn, target: Path, meta: dict) -> None:
    WRITERS[fmt](learn, target, meta)


def _write_tlsmodel(learn, target: Path, meta: dict) -> None:
    from tlstudio.core.delivery.model_file import write_tlsmodel

    write_tlsmodel(learn, target, meta)


def _write_pkl(learn, target: Path, meta: dict) -> None:
    from fastai.learner import Learner
    from fastai.losses import CrossEntropyLossFlat

    from tlstudio.core.delivery.inference_data import inference_dataloaders

    # A new learner around the same network: none of the training learner's
    # callbacks, splitter, metrics or item readers come along.
    portable = Learner(inference_dataloaders(meta), learn.model, loss_func=CrossEntropyLossFlat())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        portable.export(target.resolve())


def probability_model(learn):
    """A CPU copy of the network in eval mode, ending in a softmax; the
    learner's own model stays where and as it is."""
    import torch.nn as nn

    net = copy.deepcopy(learn.model).cpu().eval()
    return nn.Sequential(net, nn.Softmax(dim=1)).eval()


def example_batch(meta: dict):
    import torch

    size = int(meta["input_size"])
    # Two images, not one: a batch of one lets the exporter fix the batch size.
    return torch.zeros(2, 3, size, size)


def _write_onnx(learn, target: Path, meta: dict) -> None:
    import torch

    model = probability_model(learn)
    batch = torch.export.Dim("batch", min=1, max=4096)
    # The exporter reports each of its steps on stdout; the CLI owns stdout.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example_batch(meta),), str(target), dynamo=True, dynamic_shapes=({0: batch},),
            external_data=False, opset_version=ONNX_OPSET, input_names=["input"], output_names=["probabilities"],
            verbose=False,
        )


def _write_torchscript(learn, target: Path, meta: dict) -> None:
    import torch

    model = probability_model(learn)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, example_batch(meta))
    traced.save(str(target))


WRITERS = {"tlsmodel": _write_tlsmodel, "pkl": _write_pkl, "onnx": _write_onnx, "torchscript": _write_torchscript}
NEEDS_STANDALONE = {"onnx", "torchscript"}


def write_standalone(folder: Path) -> Path:
    """predict.py, beside an .onnx or .pt: the very module the app predicts those formats with."""
    target = folder / STANDALONE_NAME
    source = resources.files("tlstudio.core.delivery").joinpath("standalone_predict.py").read_text(encoding="utf-8")
    target.write_text(source, encoding="utf-8")
    return target


def file_facts(fmt: str, meta: dict) -> dict:
    """What the sidecar of an .onnx or .pt adds: how to feed the file and what comes out."""
    if fmt not in NEEDS_STANDALONE:
        return {}
    size = int(meta["input_size"])
    return {
        "input": {"name": "input", "shape": ["batch", 3, size, size], "dtype": "float32",
                  "layout": "NCHW, RGB, pixels / 255, then (x - mean) / std with the normalization above"},
        "output": {"name": "probabilities", "shape": ["batch", len(meta["classes"])],
                   "meaning": "softmax probabilities in the order of classes"},
        **({"onnx_opset": ONNX_OPSET} if fmt == "onnx" else {}),
        "predict_script": STANDALONE_NAME,
    }
