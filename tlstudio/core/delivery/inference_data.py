"""fastai's own valid-time pipeline for a model without its dataset: the one a
`.tlsmodel` is loaded with and the one an exported `.pkl` carries.

Built only from fastai pieces (`PILImage.create`, `Resize`, `ToTensor`,
`IntToFloatTensor`, `Normalize`, `Categorize`), so a pickle holding it loads
where tlstudio is not installed. It reads image paths: `dls.test_dl([paths])`.
"""
from __future__ import annotations

from pathlib import Path

# One batch size for every prediction pass (the app's, an exported .pkl's,
# a .tlsmodel's, predict.py's): a convolution's float rounding depends on the
# batch it runs in, and verification compares probabilities to 1e-5.
PREDICT_BS = 32


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

    from tlstudio.core.dataset.loaders import RESIZE_METHODS

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
        bs=PREDICT_BS,
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

    from tlstudio.core.dataset.loaders import open_image

    # fastai's own opener decodes unchecked and raises on a broken file; ours
    # holds the one pixel limit and drops (and records) what no longer decodes.
    x_tfms = [open_image if getattr(t, "name", "") == "PILBase.create" else t
              for t in learn.dls.valid_ds.tls[0].tfms.fs]
    vocab = [str(c) for c in learn.dls.vocab]
    paths, labels = _decodable_first(list(paths), list(labels))
    dsets = Datasets(tls=[
        TfmdLists(test_items(learn, paths), x_tfms, split_idx=1),
        TfmdLists([str(label) for label in labels], [Categorize(vocab=vocab, sort=False)], split_idx=1),
    ])
    # In this process: a failure recorded in a DataLoader worker would be lost.
    return learn.dls.valid.new(dsets, shuffle=False, drop_last=False, num_workers=0)


def _decodable_first(paths, labels):
    """fastai decodes the first item to set up its transforms, outside any
    batch, where a dropped item is an error: a decodable one goes first."""
    from tlstudio.core.dataset.image_check import ImageProblem, decode_checked

    for i, path in enumerate(paths):
        try:
            decode_checked(path)
        except ImageProblem:
            continue
        order = [i, *(j for j in range(len(paths)) if j != i)]
        return [paths[j] for j in order], [labels[j] for j in order]
    return paths, labels


def learner_probabilities(learn, paths):
    """Probabilities from fastai's `get_preds` over image files (rows in input
    order; a file that no longer decodes has no row and is recorded, see
    data.note_decode_failure). Each image is decoded once, checked against the
    one pixel limit: by `data.open_image` for a learner trained here, here for
    a loaded one, whose pipeline would decode with fastai's unchecked opener."""
    items = test_items(learn, paths)
    if isinstance(items, list):
        items = _decoded(items)
        if not items:
            import numpy as np

            return np.zeros((0, len(learn.dls.vocab)), dtype=np.float32)
    # Worker processes cost more to start than a prediction batch takes.
    dl = learn.dls.test_dl(items, bs=PREDICT_BS, num_workers=0)
    if not isinstance(items, list):
        dl = _without_identity_warp(dl)
    with learn.no_bar():
        # A test DataLoader is never shuffled, and fastai's reordering breaks on a skipped item.
        probs, _ = learn.get_preds(dl=dl, reorder=False)
    return probs.float().cpu().numpy()


def _without_identity_warp(dl):
    """A learner trained here carries `aug_transforms`, whose AffineCoordTfm
    (split_idx None) resamples even valid-time batches through an identity
    grid, shifting pixels by ~1e-5. Exported models carry no augmentation, so
    the app predicts without it too: in-app and exported probabilities then
    agree to float precision, as verification (1e-5) requires."""
    from fastai.vision.augment import AffineCoordTfm

    kept = [t for t in dl.after_batch.fs if not isinstance(t, AffineCoordTfm)]
    return dl if len(kept) == len(dl.after_batch.fs) else dl.new(after_batch=kept)


def _decoded(paths):
    from tlstudio.core.dataset.image_check import ImageProblem, decode_checked
    from tlstudio.core.dataset.loaders import note_decode_failure

    images = []
    for path in paths:
        try:
            images.append(decode_checked(path))
        except ImageProblem as exc:
            note_decode_failure(path, exc.detail)
    return images
