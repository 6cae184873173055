"""The pseudo-label result type and its telemetry (cluster sizes, outliers, churn, NMI/ARI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["PseudoLabels", "cluster_telemetry", "label_churn", "cluster_centroids"]


def _singletons(labels: np.ndarray) -> np.ndarray:
    """Outliers (-1) as singleton clusters, for partition-comparison scores."""
    out = labels.astype(np.int64).copy()
    neg = out < 0
    out[neg] = out.max(initial=-1) + 1 + np.arange(int(neg.sum()))
    return out


def label_churn(labels: np.ndarray, previous: np.ndarray) -> dict[str, float]:
    """How much a labelling changed against the previous epoch's (same samples, same order).

    * ``churn``: fraction of samples whose assignment changed under **majority matching**:
      each current cluster is matched to the previous label most of its members had (ties:
      the smaller label; outliers of the previous epoch never serve as a match); a clustered
      sample churns when its previous label differs from its cluster's match, and a sample
      churns when it became or stopped being an outlier. Outlier -> outlier is not churn.
    * ``churn_nmi`` / ``churn_ari``: NMI / ARI between the two labellings, outliers counted
      as singleton clusters (1.0 = same partition up to renumbering).
    """
    labels = np.asarray(labels, dtype=np.int64)
    previous = np.asarray(previous, dtype=np.int64)
    if labels.shape != previous.shape:
        raise ValueError(f"previous labels have shape {previous.shape}, labels {labels.shape}")
    changed = (labels < 0) != (previous < 0)
    both = (labels >= 0) & (previous >= 0)
    if both.any():
        cur, prev = labels[both], previous[both]
        pairs = np.unique(np.stack([cur, prev], 1), axis=0, return_counts=True)
        (pc, pp), cnt = pairs[0].T, pairs[1]
        # per current cluster: previous label with the highest count (ties -> smaller label)
        order = np.lexsort((pp, -cnt, pc))
        first = np.ones(len(order), dtype=bool)
        first[1:] = pc[order][1:] != pc[order][:-1]
        match = dict(zip(pc[order][first].tolist(), pp[order][first].tolist()))
        # current clusters made only of previous outliers have no match: all members churn
        matched = np.array([match.get(c, -2) for c in labels[labels >= 0].tolist()])
        churn_cl = np.zeros(len(labels), dtype=bool)
        churn_cl[labels >= 0] = matched != previous[labels >= 0]
        changed |= churn_cl & (previous >= 0)
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    a, b = _singletons(labels), _singletons(previous)
    return {
        "churn": float(changed.mean()) if len(labels) else 0.0,
        "churn_nmi": float(normalized_mutual_info_score(b, a)),
        "churn_ari": float(adjusted_rand_score(b, a)),
    }


def cluster_telemetry(labels: np.ndarray, previous: np.ndarray | None = None,
                      ground_truth: np.ndarray | None = None) -> dict[str, Any]:
    """Telemetry of one labelling (keys below; churn/NMI/ARI keys only when inputs are given).

    ``num_clusters``, ``num_outliers``, ``outlier_ratio``, ``cluster_size_histogram``
    (``{size: number of clusters of that size}``), ``largest_cluster``; with ``previous``:
    the keys of :func:`label_churn`; with ``ground_truth``: ``nmi`` and ``ari`` of the labels
    against it, outliers counted as singleton clusters.
    """
    labels = np.asarray(labels, dtype=np.int64)
    kept = labels[labels >= 0]
    sizes = np.bincount(kept) if kept.size else np.zeros(0, dtype=np.int64)
    sizes = sizes[sizes > 0]
    hist_sizes, hist_counts = np.unique(sizes, return_counts=True)
    out: dict[str, Any] = {
        "num_clusters": int(len(sizes)),
        "num_outliers": int((labels < 0).sum()),
        "outlier_ratio": float((labels < 0).mean()) if len(labels) else 0.0,
        "cluster_size_histogram": dict(zip(hist_sizes.tolist(), hist_counts.tolist())),
        "largest_cluster": int(sizes.max()) if len(sizes) else 0,
    }
    if previous is not None:
        out.update(label_churn(labels, previous))
    if ground_truth is not None:
        from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

        gt = np.asarray(ground_truth)
        if gt.shape != labels.shape:
            raise ValueError(f"ground_truth has shape {gt.shape}, labels {labels.shape}")
        out["nmi"] = float(normalized_mutual_info_score(gt, _singletons(labels)))
        out["ari"] = float(adjusted_rand_score(gt, _singletons(labels)))
    return out


def cluster_centroids(features: Any, labels: np.ndarray, num_clusters: int) -> np.ndarray:
    """(num_clusters, D) float32 mean feature of each cluster (outliers excluded)."""
    x = np.asarray(features.detach().cpu().numpy() if hasattr(features, "detach") else features,
                   dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    keep = labels >= 0
    sums = np.zeros((num_clusters, x.shape[1]), dtype=np.float64)
    np.add.at(sums, labels[keep], x[keep])
    counts = np.bincount(labels[keep], minlength=num_clusters)[:, None]
    return (sums / np.maximum(counts, 1)).astype(np.float32)


@dataclass
class PseudoLabels:
    """One epoch's pseudo labels.

    :ivar labels: (N,) int64, clusters numbered ``0..num_clusters-1``, outliers ``-1``.
    :ivar num_clusters: number of clusters.
    :ivar centroids: (num_clusters, D) float32 mean feature per cluster (not normalised; see
        :meth:`normalized_centroids`), or ``None`` when no features were given.
    :ivar telemetry: :func:`cluster_telemetry` of the labels (plus clusterer extras, e.g.
        ``eps``).
    """

    labels: np.ndarray
    num_clusters: int
    centroids: np.ndarray | None = None
    telemetry: dict[str, Any] = field(default_factory=dict)

    @property
    def outliers(self) -> np.ndarray:
        """Indices of the outliers (label -1)."""
        return np.flatnonzero(self.labels < 0)

    def normalized_centroids(self) -> np.ndarray | None:
        """L2-normalised centroids (what MMT/MMT+/PPLR write into classifier rows)."""
        if self.centroids is None:
            return None
        nrm = np.linalg.norm(self.centroids, axis=1, keepdims=True)
        return self.centroids / np.maximum(nrm, 1e-12)


def make_pseudo_labels(labels: np.ndarray, features: Any = None, previous: Any = None,
                       ground_truth: Any = None, **extra: Any) -> PseudoLabels:
    """Renumber ``labels`` densely (outliers stay -1) and attach centroids and telemetry."""
    labels = np.asarray(labels, dtype=np.int64)
    uniq = np.unique(labels[labels >= 0])
    dense = np.full_like(labels, -1)
    dense[labels >= 0] = np.searchsorted(uniq, labels[labels >= 0])
    prev = previous.labels if isinstance(previous, PseudoLabels) else previous
    tel = cluster_telemetry(dense, prev, ground_truth)
    tel.update(extra)
    cents = None if features is None else cluster_centroids(features, dense, len(uniq))
    return PseudoLabels(dense, int(len(uniq)), cents, tel)
