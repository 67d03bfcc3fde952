"""Exact and near duplicates.

Exact: the same decoded pixels (digest of RGB bytes and size), whatever the
file's name or format. Near: candidate pairs come from the perceptual hash
(Hamming distance) and, after the feature pass, from cosine nearest
neighbours on the backbone's pooled features; every candidate is then
confirmed on the pixels by the normalised correlation of the two grayscale
thumbnails, so a resized, recompressed or brightened copy scores near 1 and
two different pictures of the same kind of thing score lower. The
perceptual hash does not survive cropping, the features do: their
candidates are also compared over a small set of crops, which finds a
slightly cropped copy.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

PHASH_CANDIDATE_DISTANCE = 10  # of 64 bits; wide, because every candidate is checked on pixels
# A large set of similar pictures has many pairs within that distance
# (Fashion-MNIST's 70,000: 7.2 million, against 177,000 within 4 bits), so
# the distance narrows until about this many candidates per image remain.
PHASH_CANDIDATES_PER_IMAGE = 4
_DISTANCE_SAMPLE = 1000  # rows whose distances to every image estimate the count
# Aligned correlation from which two images count as near duplicates. On the
# planted demo set resized, JPEG and brightened copies score above 0.996,
# copies with 4% cut off each side 0.976 to 0.99, and the closest pairs of
# different pictures up to 0.98.
NEAR_SIMILARITY = 0.98
CROP_SEARCH_FROM = 0.8  # pairs whose whole thumbnails correlate less are not searched for crops
FEATURE_NEIGHBOURS = 3  # nearest neighbours per image proposed by the features
# Crops tried, as the fraction cut from the (left, top, right, bottom) sides:
# every combination of 0 and 6%, and even cuts of 3% and 9%.
_CROPS = tuple((l, t, r, b) for l in (0, .06) for t in (0, .06) for r in (0, .06) for b in (0, .06)) + (
    (.03, .03, .03, .03), (.09, .09, .09, .09))
_PAIR_BATCH = 128  # pairs searched for crops at a time
_WHOLE_BATCH = 16384  # pairs compared whole at a time
_ROW_BATCH = 1024  # rows of the feature similarity matrix at a time
_HASH_BATCH = 128  # rows of the Hamming distance matrix at a time (x n x 8 bytes)


@dataclass(frozen=True)
class DuplicateSet:
    members: tuple[int, ...]  # indices into the dataset's items, sorted
    score: float  # 1.0 for exact duplicates; the best pair similarity for near ones


def exact_sets(digests: list[bytes | None]) -> list[DuplicateSet]:
    by_digest: dict[bytes, list[int]] = defaultdict(list)
    for i, d in enumerate(digests):
        if d is not None:
            by_digest[d].append(i)
    return [DuplicateSet(tuple(m), 1.0) for m in by_digest.values() if len(m) > 1]


def candidate_distance(hashes: np.ndarray, seed: int = 0) -> int:
    """The widest Hamming distance (at most PHASH_CANDIDATE_DISTANCE) whose
    pairs number about PHASH_CANDIDATES_PER_IMAGE per image, estimated from a
    sample of rows."""
    n = len(hashes)
    rows = np.random.default_rng(seed).choice(n, min(n, _DISTANCE_SAMPLE), replace=False)
    counts = np.zeros(65, np.int64)
    for start in range(0, len(rows), _HASH_BATCH):
        dist = np.bitwise_count(hashes[rows[start : start + _HASH_BATCH], None] ^ hashes[None, :])
        counts += np.bincount(dist.ravel(), minlength=65)
    counts[0] -= len(rows)  # each sampled row against itself
    pairs_within = np.cumsum(counts) * n / max(len(rows), 1) / 2
    budget = PHASH_CANDIDATES_PER_IMAGE * n
    fits = [d for d in range(PHASH_CANDIDATE_DISTANCE + 1) if pairs_within[d] <= budget]
    return max(fits, default=0)


def phash_pairs(hashes: np.ndarray, max_distance: int | None = None) -> np.ndarray:
    """(i, j) with i < j whose perceptual hashes differ in at most
    `max_distance` bits (None: `candidate_distance`)."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    if max_distance is None:
        max_distance = candidate_distance(hashes)
    found = [np.zeros((0, 2), np.int64)]
    for start in range(0, len(hashes), _HASH_BATCH):
        block = hashes[start : start + _HASH_BATCH]
        # compare each row only with the rows after it
        dist = np.bitwise_count(block[:, None] ^ hashes[None, start:])
        i, j = np.nonzero(dist <= max_distance)
        keep = j > i
        found.append(np.stack([i[keep] + start, j[keep] + start], axis=1))
    return np.concatenate(found)


def feature_pairs(features: np.ndarray, k: int = FEATURE_NEIGHBOURS) -> np.ndarray:
    """(i, j), i < j, where j is among i's `k` nearest neighbours by cosine
    similarity of the centred features (centring removes what every image of
    the set shares, which otherwise makes all of them look alike)."""
    n = len(features)
    if n < 2:
        return np.zeros((0, 2), np.int64)
    z = features - features.mean(axis=0, keepdims=True)
    z /= np.linalg.norm(z, axis=1, keepdims=True) + 1e-12
    k = min(k, n - 1)
    found = []
    for start in range(0, n, _ROW_BATCH):
        sims = z[start : start + _ROW_BATCH] @ z.T
        rows = np.arange(len(sims))
        sims[rows, rows + start] = -np.inf
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        i = np.repeat(rows + start, k)
        found.append(np.stack([i, nearest.ravel()], axis=1))
    pairs = np.sort(np.concatenate(found), axis=1)
    return np.unique(pairs, axis=0)


def _crop_grid(side: int):
    import torch
    import torch.nn.functional as F

    thetas = [[[1 - l - r, 0, l - r], [0, 1 - t - b, t - b]] for l, t, r, b in _CROPS]
    thetas = torch.tensor(thetas, dtype=torch.float32)
    return F.affine_grid(thetas, [len(thetas), 1, side, side], align_corners=False)


def _unit(v: np.ndarray) -> np.ndarray:
    v = v - v.mean(axis=-1, keepdims=True)
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-6)


def aligned_similarity(thumbs: np.ndarray, pairs: np.ndarray, crops: bool = True) -> np.ndarray:
    """For each pair, the correlation of the two thumbnails in [-1, 1]; with
    `crops`, the best correlation of one with a crop of the other (either way
    round), searched only for pairs close but not yet close enough whole."""
    if len(pairs) == 0:
        return np.zeros(0, np.float32)
    flat = _unit(thumbs.reshape(len(thumbs), -1).astype(np.float32))
    scores = np.concatenate([
        np.einsum("ij,ij->i", flat[batch[:, 0]], flat[batch[:, 1]])
        for batch in np.array_split(pairs, -(-len(pairs) // _WHOLE_BATCH))
    ])
    search = np.flatnonzero((scores >= CROP_SEARCH_FROM) & (scores < NEAR_SIMILARITY)) if crops else []
    if len(search):
        scores[search] = np.maximum(scores[search], _best_crop(thumbs, pairs[search]))
    return scores


def _best_crop(thumbs: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    side = thumbs.shape[1]
    grid = _crop_grid(side)
    n_crops = len(grid)
    images = torch.from_numpy(thumbs).float()[:, None] / 255

    def unit(v):
        v = v - v.mean(dim=-1, keepdim=True)
        return v / (v.norm(dim=-1, keepdim=True) + 1e-6)

    def crops(x):  # (B, 1, S, S) -> (B, n_crops, S*S), each crop resized back to S x S
        b = len(x)
        out = F.grid_sample(x.repeat_interleave(n_crops, 0), grid.repeat(b, 1, 1, 1),
                            mode="bilinear", padding_mode="border", align_corners=False)
        return unit(out.view(b, n_crops, -1))

    scores = []
    with torch.no_grad():
        for start in range(0, len(pairs), _PAIR_BATCH):
            batch = torch.from_numpy(np.asarray(pairs[start : start + _PAIR_BATCH]))
            a, b = images[batch[:, 0]], images[batch[:, 1]]
            a_whole, b_whole = unit(a.flatten(1))[:, None], unit(b.flatten(1))[:, None]
            a_in_b = (crops(b) * a_whole).sum(-1).amax(1)
            b_in_a = (crops(a) * b_whole).sum(-1).amax(1)
            scores.append(torch.maximum(a_in_b, b_in_a).numpy())
    return np.concatenate(scores)


def near_sets(thumbs: np.ndarray, exact: list[DuplicateSet], hash_pairs: np.ndarray,
              feature_pairs: np.ndarray | None = None, threshold: float = NEAR_SIMILARITY) -> list[DuplicateSet]:
    """Connected sets of confirmed near-duplicate pairs. Exact copies count as
    one image here; a set is near when at least one of its links is not exact.
    Only the features' candidates are searched for crops."""
    n = len(thumbs)
    rep = np.arange(n)
    for s in exact:
        rep[list(s.members)] = s.members[0]
    confirmed, best = [], []
    for candidates, crops in ((hash_pairs, False), (feature_pairs, True)):
        if candidates is None or len(candidates) == 0:
            continue
        pairs = np.unique(np.sort(rep[candidates], axis=1), axis=0)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        sims = aligned_similarity(thumbs, pairs, crops)
        confirmed.append(pairs[sims >= threshold])
        best.append(sims[sims >= threshold])
    confirmed = np.concatenate(confirmed) if confirmed else np.zeros((0, 2), np.int64)
    best = np.concatenate(best) if best else np.zeros(0)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in confirmed.tolist():
        parent[root(i)] = root(j)
    score: dict[int, float] = defaultdict(float)
    for (i, _), s in zip(confirmed.tolist(), best.tolist()):
        score[root(i)] = max(score[root(i)], s)
    members: dict[int, list[int]] = defaultdict(list)
    for s in exact:
        for m in s.members[1:]:
            members[root(s.members[0])].append(m)
    for i in set(np.unique(confirmed).tolist()):
        members[root(i)].append(i)
    return [DuplicateSet(tuple(sorted(m)), min(1.0, score[r])) for r, m in members.items() if r in score]
