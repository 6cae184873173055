"""Clusterers (DBSCAN on the sparse Jaccard distance, k-means) and their registry."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from reid_cluster.telemetry import PseudoLabels, make_pseudo_labels
from reid_plugin import make_plugin_manager
from reid_plugin.registry import Registry

__all__ = ["DBSCANClusterer", "KMeansClusterer", "mmt_eps", "clusterer_registry",
           "create_clusterer", "list_clusterers"]


def mmt_eps(distance: sp.spmatrix, rho: float = 1.6e-3) -> float:
    """MMT's epoch-0 eps heuristic computed from the sparse distance, identical to the dense one.

    MMT takes the strictly-upper-triangular **non-zero** entries of the dense N x N Jaccard
    matrix (M of them), sorts them and averages the smallest ``round(rho * M)``. In the dense
    matrix every pair absent from our sparse matrix holds 1 (non-zero, so counted in M), and
    only the stored explicit zeros are excluded. So here M = N(N-1)/2 minus the stored
    upper-triangular zeros; the smallest stored non-zero upper entries are taken first and, if
    fewer than ``round(rho * M)`` are stored, the rest are absent pairs contributing 1 each.
    """
    coo = sp.triu(distance, k=1, format="coo")
    n = distance.shape[0]
    zeros = int((coo.data == 0).sum())
    m = n * (n - 1) // 2 - zeros
    top = int(np.round(rho * m))
    if top <= 0:
        raise ValueError(f"rho={rho} selects no pair out of {m}; use a larger rho")
    vals = np.sort(coo.data[coo.data != 0])[:top].astype(np.float64)
    total = vals.sum() + 1.0 * (top - len(vals))
    return float(total / top)


class DBSCANClusterer:
    """DBSCAN on the sparse k-reciprocal Jaccard distance (MMT, MMT+, PPLR).

    :param eps: neighbourhood radius, or ``"auto"`` for MMT's heuristic (:func:`mmt_eps`,
        computed at the first call and then kept, as MMT reuses its epoch-0 DBSCAN).
    :param min_samples: core-point threshold (self included, as scikit-learn).
    :param rho: fraction for the ``"auto"`` heuristic.
    :param k1, k2, variant, knn_backend: how :func:`reid_cluster.jaccard_distance` is computed
        when :meth:`cluster` gets features but no distance.

    Only entries ``<= eps`` of the distance are handed to scikit-learn (explicit zeros kept), which
    gives the same labels as the dense matrix: absent entries are 1 > eps, never neighbours.
    """

    name = "dbscan"

    def __init__(self, eps: float | str = 0.6, min_samples: int = 4, rho: float = 1.6e-3,
                 k1: int = 30, k2: int = 6, variant: str = "spcl",
                 knn_backend: str = "torch", n_jobs: int | None = None) -> None:
        if not (eps == "auto" or isinstance(eps, (int, float))):
            raise ValueError(f"eps must be a number or 'auto', got {eps!r}")
        self.eps = eps
        self.eps_: float | None = None if eps == "auto" else float(eps)
        self.min_samples = int(min_samples)
        self.rho = float(rho)
        self.k1, self.k2, self.variant, self.knn_backend = k1, k2, variant, knn_backend
        self.n_jobs = n_jobs

    def cluster(self, features: Any = None, distance: sp.spmatrix | None = None, *,
                previous: Any = None, ground_truth: Any = None) -> PseudoLabels:
        """Cluster ``distance`` (computed from ``features`` when not given)."""
        from sklearn.cluster import DBSCAN

        if distance is None:
            if features is None:
                raise ValueError("DBSCANClusterer.cluster needs features or a distance")
            from reid_cluster.jaccard import jaccard_distance

            distance = jaccard_distance(features, self.k1, self.k2, variant=self.variant,
                                        knn_backend=self.knn_backend)
        distance = sp.csr_matrix(distance)
        if self.eps_ is None:
            self.eps_ = mmt_eps(distance, self.rho)
        eps = self.eps_
        keep = distance.data <= eps
        row_of = np.repeat(np.arange(distance.shape[0]), np.diff(distance.indptr))
        near = sp.csr_matrix((distance.data[keep], (row_of[keep], distance.indices[keep])),
                             shape=distance.shape)
        labels = DBSCAN(eps=eps, min_samples=self.min_samples, metric="precomputed",
                        n_jobs=self.n_jobs).fit_predict(near)
        return make_pseudo_labels(labels, features, previous, ground_truth, eps=eps)


class KMeansClusterer:
    """k-means with a seed (MMT's k-means variant, MMT+'s alternative): every sample labelled.

    :param n_clusters: K.
    :param seed: random seed (initialisation).
    :param n_iter: maximum iterations (300, as MMT+'s faiss call).
    :param backend: ``"auto"`` (faiss when installed, else torch), ``"faiss"``, ``"torch"``
        (Lloyd iterations, chunked, k-means++ initialisation) or ``"sklearn"``
        (``KMeans(n_init=1, random_state=seed)``).
    """

    name = "kmeans"

    def __init__(self, n_clusters: int = 500, seed: int = 0, n_iter: int = 300,
                 backend: str = "auto") -> None:
        choices = ("auto", "faiss", "torch", "sklearn")
        if backend not in choices:
            raise ValueError(f"backend must be one of {list(choices)}, got {backend!r}")
        self.n_clusters, self.seed, self.n_iter, self.backend = int(n_clusters), seed, n_iter, backend

    def _backend(self) -> str:
        if self.backend != "auto":
            return self.backend
        try:
            import faiss  # noqa: F401
        except ImportError:
            return "torch"
        return "faiss"

    def cluster(self, features: Any = None, distance: Any = None, *, previous: Any = None,
                ground_truth: Any = None) -> PseudoLabels:
        """Cluster ``features`` ((N, D)); ``distance`` is not used by k-means."""
        if features is None:
            raise ValueError("KMeansClusterer.cluster needs features")
        x = np.ascontiguousarray(
            features.detach().cpu().float().numpy() if isinstance(features, torch.Tensor)
            else np.asarray(features, dtype=np.float32))
        if self.n_clusters > len(x):
            raise ValueError(f"n_clusters={self.n_clusters} exceeds the {len(x)} samples")
        backend = self._backend()
        if backend == "faiss":
            from reid_cluster.knn import _import_faiss

            faiss = _import_faiss()
            km = faiss.Kmeans(x.shape[1], self.n_clusters, niter=self.n_iter, seed=self.seed,
                              verbose=False)
            km.train(x)
            labels = km.index.search(x, 1)[1].reshape(-1)
        elif backend == "sklearn":
            from sklearn.cluster import KMeans

            labels = KMeans(self.n_clusters, n_init=1, max_iter=self.n_iter,
                            random_state=self.seed).fit_predict(x)
        else:
            labels = _torch_kmeans(torch.from_numpy(x), self.n_clusters, self.n_iter, self.seed)
        return make_pseudo_labels(labels, x, previous, ground_truth, backend=backend)


def _assign(x: torch.Tensor, c: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    c_sq = (c * c).sum(1)
    lab = torch.empty(len(x), dtype=torch.long)
    dmin = torch.empty(len(x))
    for s in range(0, len(x), chunk):
        key = torch.addmm(c_sq[None, :], x[s : s + chunk], c.T, alpha=-2.0)
        dmin[s : s + chunk], lab[s : s + chunk] = key.min(1)
    return lab, dmin + (x * x).sum(1)


def _torch_kmeans(x: torch.Tensor, k: int, n_iter: int, seed: int) -> np.ndarray:
    g = torch.Generator().manual_seed(int(seed))
    n = len(x)
    # k-means++ seeding (greedy-free, one candidate per step)
    centres = [int(torch.randint(n, (1,), generator=g))]
    d2 = ((x - x[centres[0]]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2.clamp_min(0) + 1e-12
        nxt = int(torch.multinomial(p / p.sum(), 1, generator=g))
        centres.append(nxt)
        d2 = torch.minimum(d2, ((x - x[nxt]) ** 2).sum(1))
    c = x[centres].clone()
    lab = torch.full((n,), -1, dtype=torch.long)
    for _ in range(n_iter):
        new, dist = _assign(x, c)
        if torch.equal(new, lab):
            break
        lab = new
        sums = torch.zeros_like(c).index_add_(0, lab, x)
        cnt = torch.bincount(lab, minlength=k)
        empty = cnt == 0
        c = sums / cnt.clamp_min(1)[:, None]
        if bool(empty.any()):  # re-seed empty clusters with the farthest points
            far = torch.topk(dist, int(empty.sum())).indices
            c[empty] = x[far]
    return lab.numpy()


def clusterer_registry(pm: Any = None) -> Registry[Any]:
    """Registry of clusterers from ``reid_register_clusterers`` (core-only manager by default)."""
    pm = pm if pm is not None else make_plugin_manager()
    return Registry.from_hook(pm, "reid_register_clusterers", "clusterer")


def list_clusterers(pm: Any = None) -> list[str]:
    return clusterer_registry(pm).names()


def create_clusterer(name: str, pm: Any = None, **opts: Any) -> Any:
    """Build clusterer ``name`` (``dbscan``, ``kmeans``, or a plugin's) with ``opts``."""
    return clusterer_registry(pm).create(name, **opts)
