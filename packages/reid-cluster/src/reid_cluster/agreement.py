"""Cross-agreement of two feature spaces (PPLR, METHODS §6.2)."""

from __future__ import annotations

from typing import Any

import numpy as np

from reid_cluster.knn import knn

__all__ = ["cross_agreement", "neighbour_set_jaccard"]


def neighbour_set_jaccard(idx_a: np.ndarray, idx_b: np.ndarray) -> np.ndarray:
    """Row-wise ``|A_i ∩ B_i| / |A_i ∪ B_i|`` of two (N, k) neighbour-index arrays (rows of
    unique indices)."""
    a, b = np.asarray(idx_a), np.asarray(idx_b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"neighbour arrays have {a.shape[0]} and {b.shape[0]} rows")
    both = np.sort(np.concatenate([a, b], axis=1), axis=1)
    inter = (both[:, 1:] == both[:, :-1]).sum(1)
    union = a.shape[1] + b.shape[1] - inter
    return (inter / np.maximum(union, 1)).astype(np.float32)


def cross_agreement(feats_a: Any, feats_b: Any, k: int = 20, *, knn_backend: str | Any = "torch",
                    pm: Any = None, **knn_opts: Any) -> np.ndarray:
    """PPLR's cross-agreement score: for every sample ``i``, the Jaccard similarity of its
    top-``k`` neighbour sets (self excluded) in the two spaces, ``(N,)`` float32 in [0, 1].

    PPLR calls it with the global features as ``feats_a`` and one part's features as
    ``feats_b`` (k = 20), on all images, before outlier removal.
    """
    na, nb = len(feats_a), len(feats_b)
    if na != nb:
        raise ValueError(f"feats_a has {na} samples, feats_b {nb}; they must describe the same samples")
    _, ia = knn(feats_a, k, knn_backend, exclude_self=True, pm=pm, **knn_opts)
    _, ib = knn(feats_b, k, knn_backend, exclude_self=True, pm=pm, **knn_opts)
    return neighbour_set_jaccard(ia, ib)
