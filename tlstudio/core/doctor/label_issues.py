"""Likely label errors by confident learning (Northcutt, Jiang and Chuang,
"Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021).

Out-of-fold probabilities come from a k-fold linear head on the cached
backbone features, so no image is judged by a model that saw its label. Each
class j gets a threshold t_j, the mean predicted probability of j over the
images labelled j. An image labelled y is *confidently* of class j when
p_j >= t_j (the most probable such j when several are). How many images are
confidently of a class other than their label (the off-diagonal of the
"confident joint") estimates how many labels are wrong; that many images with
the lowest self-confidence, the probability the head gives to the image's own
label, are the likely errors, lowest first (the "low self-confidence" filter
of the paper's follow-up work). Counting rather than taking the off-diagonal
images themselves also finds a wrong label whose true class the head is not
confident about.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FOLDS = 5
# The linear head trains on this many principal components of the features
# (fitted once on all images: it never sees a label). On the planted demo set
# 64 ranked flipped labels as well as 128 components or the whole 2,560
# features, in a tenth of the time; whitening them ranked worse.
_PCA_DIMS = 64


@dataclass(frozen=True)
class LabelIssue:
    index: int
    self_confidence: float  # predicted probability of the given label
    suggested: int  # the most probable class other than its label


def out_of_fold_probabilities(features: np.ndarray, labels: np.ndarray, n_classes: int,
                              folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """(n, n_classes) probabilities, each row from a head trained without that image."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    smallest = np.bincount(labels, minlength=n_classes)
    folds = int(max(2, min(folds, smallest[smallest > 0].min())))
    dims = int(min(_PCA_DIMS, features.shape[1], len(features) - 1))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    # The head's many small matrix products run on one BLAS thread: with
    # OpenBLAS's two threads on the 2-core machine under load, one fit on
    # 2,602 x 64 took 30.5 s, on one thread 0.35 s.
    with threadpool_limits(1):
        x = PCA(dims, random_state=seed).fit_transform(StandardScaler().fit_transform(features))
        probs = cross_val_predict(LogisticRegression(max_iter=1000), x, labels, cv=cv, method="predict_proba")
    if probs.shape[1] < n_classes:  # a class absent from every fold's training part
        full = np.zeros((len(labels), n_classes))
        full[:, np.unique(labels)] = probs
        probs = full
    return probs


def self_confidence_order(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Every index, least confident in its own label first."""
    return np.argsort(probs[np.arange(len(labels)), labels], kind="stable")


def find_label_issues(probs: np.ndarray, labels: np.ndarray) -> list[LabelIssue]:
    """As many of the least self-confident images as the confident joint has
    off-diagonal entries, lowest self-confidence first. The suggestion is the
    most probable other class."""
    n, k = probs.shape
    thresholds = np.array([probs[labels == j, j].mean() if np.any(labels == j) else 1.0 for j in range(k)])
    above = probs >= thresholds[None, :]
    confident = np.where(above, probs, -1.0).argmax(axis=1)
    n_issues = int(np.sum(above.any(axis=1) & (confident != labels)))
    self_conf = probs[np.arange(n), labels]
    others = probs.copy()
    others[np.arange(n), labels] = -1.0
    suggested = others.argmax(axis=1)
    order = self_confidence_order(probs, labels)[:n_issues]
    return [LabelIssue(int(i), float(self_conf[i]), int(suggested[i])) for i in order]
