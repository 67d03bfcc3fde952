"""fastai's own valid-time pipeline for a model without its dataset: the one a
`.tlsmodel` is loaded with and the one an exported `.pkl` carries.

Built only from fastai pieces (`PILImage.create`, `Resize`, `ToTensor`,
`IntToFloatTensor`, `Normalize`, `Categorize`), so a pickle holding it loads
where tlstudio is not installed. It reads image paths: `dls.test_dl([paths])`.
"""
from __future__ import annotations

from pathlib import Path


def inference_dataloaders(meta: dict, device=None):
    """Empty DataLoaders whose valid-time transforms resize (`resize_method`,
    `input_size`) and normalise exactly as the model was trained."""
    import numpy as np
    from fastai.vision.all import (
        Categorize,
        Datasets,
        IntToFloatTensor,
        Normalize,
        PILImage,
        Resize,
        TfmdLists,
        ToTensor,
    )

    from tlstudio.core.data import RESIZE_METHODS

    classes = [str(c) for c in meta["classes"]]
    batch_tfms = [IntToFloatTensor()]
    norm = meta.get("normalization")
    if norm:
        batch_tfms.append(Normalize.from_stats(norm["mean"], norm["std"]))
    # fastai builds DataLoaders by running one item through them; an empty
    # source cannot, so one blank in-memory image (and its own label list)
    # stands in and is dropped by `new_empty`, as `Learner.export` does.
    blank = np.zeros((8, 8, 3), dtype=np.uint8)
    splits = [[0], [0]]
    dsets = Datasets(tls=[
        TfmdLists([blank], [PILImage.create], splits=splits),
        TfmdLists([classes[0]], [Categorize(vocab=classes, sort=False)], splits=splits),
    ])
    dls = dsets.dataloaders(
        after_item=[Resize(int(meta["input_size"]), method=RESIZE_METHODS[meta["resize_method"]]), ToTensor()],
        after_batch=batch_tfms,
        bs=64,
        device=device,
    )
    return dls.new_empty()


def test_items(learn, paths):
    """Items in the form the learner's pipeline reads: a learner trained here
    reads a DataFrame column "path"; exported ones and most fastai image
    models read paths."""
    import pandas as pd
    from fastai.data.transforms import ColReader

    tfms = getattr(learn.dls.valid_ds, "tls", [None])[0]
    reads_frame = tfms is not None and any(isinstance(t, ColReader) for t in tfms.tfms.fs)
    return pd.DataFrame({"path": [str(p) for p in paths]}) if reads_frame else [Path(p) for p in paths]


def labelled_dl(learn, paths, labels):
    """A DataLoader of (image, label) through the learner's own valid-time
    transforms, whatever form its items take: what evaluation needs from a
    loaded model that kept no dataset."""
    from fastai.vision.all import Categorize, Datasets, TfmdLists

    x_tfms = learn.dls.valid_ds.tls[0].tfms
    vocab = [str(c) for c in learn.dls.vocab]
    dsets = Datasets(tls=[
        TfmdLists(test_items(learn, paths), x_tfms, split_idx=1),
        TfmdLists([str(label) for label in labels], [Categorize(vocab=vocab, sort=False)], split_idx=1),
    ])
    return learn.dls.valid.new(dsets, shuffle=False, drop_last=False)


def learner_probabilities(learn, paths):
    """Probabilities from fastai's `get_preds` over image files (rows in input
    order; a file that no longer decodes has no row, see data.open_image)."""
    dl = learn.dls.test_dl(test_items(learn, paths))
    with learn.no_bar():
        # A test DataLoader is never shuffled, and fastai's reordering breaks on a skipped item.
        probs, _ = learn.get_preds(dl=dl, reorder=False)
    return probs.float().cpu().numpy()
