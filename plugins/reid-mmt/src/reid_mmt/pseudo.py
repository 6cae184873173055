"""Per-epoch pseudo-labelling shared by MMT and the clustering baselines (METHODS §1.3-1.5).

Features of every target-train image are extracted on every rank (sharded, gathered in order),
clustered once on rank 0 and the labels broadcast; no rank ever holds an N x N matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from reid_runner.context import StageContext


@dataclass
class PseudoLabelConfig:
    """Clustering keys of the MMT family (official defaults)."""

    #: ``kmeans`` (MMT-K, every image labelled) or ``dbscan`` (outliers dropped each epoch).
    clustering: str = "kmeans"
    #: K of k-means (the paper uses 500/700/900 for Market/Duke, 500-2000 for MSMT17).
    num_clusters: int = 500
    #: DBSCAN radius, or ``auto``: MMT's epoch-0 heuristic (mean of the smallest rho*M Jaccard
    #: distances), then kept for the whole run.
    eps: Any = "auto"
    rho: float = 1.6e-3
    min_samples: int = 4
    #: k-reciprocal Jaccard parameters and variant (``mmt``: MMT's own; ``spcl``: SpCL/PPLR).
    k1: int = 20
    k2: int = 6
    jaccard_variant: str = "mmt"
    #: kNN backend of reid-cluster (``torch`` needs nothing; ``faiss-flat`` needs the extra).
    knn_backend: str = "torch"
    #: k-means backend: ``auto`` (faiss when installed, else torch), ``torch``, ``sklearn``.
    kmeans_backend: str = "auto"

    def validate_clustering(self, where: str) -> None:
        from reid_runner.config import ConfigError

        if self.clustering not in ("kmeans", "dbscan"):
            raise ConfigError(f"{where}.clustering: {self.clustering!r} is not kmeans or dbscan")
        if self.clustering == "kmeans" and self.num_clusters < 2:
            raise ConfigError(f"{where}.num_clusters: must be >= 2 for k-means")
        if not (self.eps == "auto" or isinstance(self.eps, (int, float))):
            raise ConfigError(f"{where}.eps: {self.eps!r} is not a number or 'auto'")
        if self.jaccard_variant not in ("mmt", "spcl"):
            raise ConfigError(
                f"{where}.jaccard_variant: {self.jaccard_variant!r} is not mmt or spcl")


def build_clusterer(cfg: PseudoLabelConfig, seed: int, pm: Any) -> Any:
    from reid_cluster import create_clusterer

    if cfg.clustering == "kmeans":
        return create_clusterer("kmeans", pm=pm, n_clusters=cfg.num_clusters, seed=seed,
                                backend=cfg.kmeans_backend)
    return create_clusterer("dbscan", pm=pm, eps=cfg.eps, min_samples=cfg.min_samples,
                            rho=cfg.rho, k1=cfg.k1, k2=cfg.k2, variant=cfg.jaccard_variant,
                            knn_backend=cfg.knn_backend)


def ground_truth(samples: list[Any]) -> np.ndarray | None:
    """True target ids when the dataset has them (synthetic or benchmark data), for telemetry
    only (NMI/ARI); never used for training. ``None`` when all ids are equal (unlabelled)."""
    pids = np.asarray([int(s[1]) for s in samples])
    return pids if len(np.unique(pids)) > 1 else None


def pseudo_label(ctx: StageContext, clusterer: Any, features: torch.Tensor,
                 previous: np.ndarray | None, samples: list[Any]) -> Any:
    """Cluster ``features`` once (rank 0), broadcast, and report the telemetry.

    Returns a :class:`reid_cluster.PseudoLabels` on every rank.
    """
    from reid_cluster import distributed_cluster

    gt = ground_truth(samples)
    result = distributed_cluster(clusterer, features if ctx.is_main else None,
                                 previous=previous, ground_truth=gt)
    eps = result.telemetry.get("eps")
    if eps is not None and getattr(clusterer, "eps_", 0) is None:
        clusterer.eps_ = float(eps)  # ranks other than 0 learn the epoch-0 radius too
    ctx.report_pseudo_labels(result.labels, result.telemetry)
    if result.num_clusters < 2:
        raise RuntimeError(
            f"stage {ctx.name!r}, epoch {ctx.epoch}: clustering produced {result.num_clusters} "
            f"cluster(s) from {len(samples)} images (eps={eps}); lower eps or check the features"
        )
    return result

