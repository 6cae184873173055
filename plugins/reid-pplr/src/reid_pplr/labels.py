"""PPLR's per-epoch preparation (METHODS §6.2, §6.4): global and part features, DBSCAN pseudo
labels on the Jaccard distance of the global features, cross-agreement scores, cluster
centroids and camera-aware proxies, and the ``scores.npy`` log.

Features are extracted on every rank (sharded, gathered in order); clustering and the
cross-agreement run once on rank 0 and are broadcast. No rank holds an N x N matrix.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from reid_runner.context import StageContext


class AllFeatures(nn.Module):
    """Eval-mode wrapper returning ``[global | part 0 | ... | part P-1]`` per image, each part
    L2-normalised, so the runner's generic (sharded) extraction can collect both at once."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        g, p = self.net.extract_all_features(x)  # [B, D], [B, D, P]
        return torch.cat([g, p.permute(0, 2, 1).reshape(p.size(0), -1)], 1)


def split_features(flat: Tensor, num_parts: int) -> tuple[Tensor, Tensor]:
    """Undo :class:`AllFeatures`: ``(global [N, D], parts [N, D, P])``."""
    d = flat.size(1) // (num_parts + 1)
    g = flat[:, :d]
    p = flat[:, d:].reshape(flat.size(0), num_parts, d).permute(0, 2, 1)
    return g.contiguous(), p.contiguous()


def extract_all(ctx: StageContext, net: nn.Module, samples: list[Any],
                num_parts: int) -> tuple[Tensor, Tensor]:
    """Normalised global and part features of ``samples`` on every rank (eval mode)."""
    flat = ctx.extract(AllFeatures(net), samples, normalize=False)
    return split_features(flat.float(), num_parts)


def agreement_scores(global_feats: Tensor, part_feats: Tensor, k: int = 20, *,
                     knn_backend: str = "torch", pm: Any = None) -> np.ndarray:
    """Cross-agreement ``C[i, p]`` ``(N, P)`` float32: Jaccard similarity of the top-``k``
    neighbour sets (self excluded) of image ``i`` in the global space and in part ``p``'s."""
    from reid_cluster import cross_agreement

    k = min(int(k), len(global_feats) - 1)
    if k < 1:
        return np.ones((len(global_feats), part_feats.size(2)), np.float32)
    cols = [cross_agreement(global_feats, part_feats[:, :, p], k, knn_backend=knn_backend, pm=pm)
            for p in range(part_feats.size(2))]
    return np.stack(cols, 1).astype(np.float32)


class EpochLabels(NamedTuple):
    """What rank 0 computes once per epoch and broadcasts."""

    labels: np.ndarray  # (N,) int64, -1 = outlier
    num_clusters: int
    telemetry: dict[str, Any]
    scores: np.ndarray  # (N, P) float32, all images (before outlier removal)


def ground_truth(samples: list[Any]) -> np.ndarray | None:
    """True ids for telemetry only (NMI/ARI), ``None`` when the split is unlabelled."""
    pids = np.asarray([int(s[1]) for s in samples])
    return pids if len(np.unique(pids)) > 1 else None


def label_and_score(ctx: StageContext, clusterer: Any, g: Tensor, p: Tensor, k: int,
                    previous: np.ndarray | None, samples: list[Any],
                    knn_backend: str = "torch") -> EpochLabels:
    """DBSCAN pseudo labels on the Jaccard distance of ``g`` and the cross-agreement of every
    part, computed on rank 0 and broadcast; the telemetry (cluster statistics plus the mean
    cross-agreement per part, ``agreement_part<p>``, and over parts, ``agreement_mean``) is
    reported through ``ctx.report_pseudo_labels``."""
    from reid_cluster import compute_and_broadcast

    gt = ground_truth(samples)

    def work() -> EpochLabels:
        pl = clusterer.cluster(g, previous=previous, ground_truth=gt)
        scores = agreement_scores(g, p, k, knn_backend=knn_backend, pm=ctx.pm)
        tel = dict(pl.telemetry)
        for i in range(scores.shape[1]):
            tel[f"agreement_part{i}"] = float(scores[:, i].mean())
        tel["agreement_mean"] = float(scores.mean())
        return EpochLabels(np.asarray(pl.labels, dtype=np.int64), int(pl.num_clusters), tel,
                           scores)

    out: EpochLabels = compute_and_broadcast(work)
    ctx.report_pseudo_labels(out.labels, out.telemetry)
    return out


def kept_scores(scores: Tensor, labels: np.ndarray) -> Tensor:
    """The scores of the clustered images, in the order of the training list (outliers
    dropped): row ``j`` belongs to the ``j``-th kept image, i.e. to batch ``index`` ``j``."""
    keep = np.flatnonzero(np.asarray(labels) >= 0)
    return scores[torch.as_tensor(keep, dtype=torch.long)]


def centroids(features: Tensor, labels: np.ndarray, num_clusters: int) -> Tensor:
    """Mean feature per cluster ``[C, ...]`` (outliers ignored); works for ``[N, D]`` and
    ``[N, D, P]`` features."""
    lab = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    keep = lab >= 0
    f = features[keep].float()
    out = torch.zeros((num_clusters, *f.shape[1:]), dtype=torch.float32)
    out.index_add_(0, lab[keep], f)
    counts = torch.bincount(lab[keep], minlength=num_clusters).clamp_min(1)
    return out / counts.view(-1, *([1] * (f.dim() - 1)))


class CameraProxies(NamedTuple):
    """PPLR-cam's per-epoch camera-aware proxies (METHODS §6.4)."""

    proxies: Tensor  # [1 + P, M, D]: global, then each part; L2-normalised
    labels: Tensor  # [M] cluster of each proxy
    cams: Tensor  # [M] camera of each proxy


def camera_proxies(g: Tensor, p: Tensor, labels: np.ndarray, cams: np.ndarray) -> CameraProxies:
    """One proxy per (cluster, camera) pair present among the clustered images: the
    L2-normalised mean of the (normalised) features of that cluster's images from that camera,
    for the global feature and for every part. Ordered by cluster, then camera (as the
    official loops)."""
    lab = np.asarray(labels, dtype=np.int64)
    cam = np.asarray(cams, dtype=np.int64)
    keep = lab >= 0
    cmin = int(cam.min()) if len(cam) else 0
    ncam = int(cam.max()) - cmin + 1 if len(cam) else 1
    key = lab[keep] * ncam + (cam[keep] - cmin)
    uniq, inv = np.unique(key, return_inverse=True)
    inv_t = torch.as_tensor(inv, dtype=torch.long)
    feats = torch.cat([g[keep].unsqueeze(1), p[keep].permute(0, 2, 1)], 1).float()  # [n, 1+P, D]
    sums = torch.zeros((len(uniq), *feats.shape[1:]), dtype=torch.float32)
    sums.index_add_(0, inv_t, feats)
    proxies = torch.nn.functional.normalize(sums, dim=2).permute(1, 0, 2).contiguous()
    return CameraProxies(proxies, torch.as_tensor(uniq // ncam, dtype=torch.long),
                         torch.as_tensor(uniq % ncam + cmin, dtype=torch.long))


def save_scores(path: Path, epoch: int, scores: np.ndarray) -> np.ndarray:
    """Write the scores of epochs ``0..epoch`` as one ``(E, N, P)`` float32 array, like the
    official ``scores.npy``: rows of earlier epochs are read back from ``path`` (a restarted
    stage keeps them; rows of later epochs, from an abandoned run, are dropped)."""
    prev = np.zeros((0, *scores.shape), np.float32)
    if path.is_file():
        old = np.load(path)
        if old.ndim == 3 and old.shape[1:] == scores.shape:
            prev = old[:epoch]
    if len(prev) != epoch:  # missing history (e.g. the file was deleted): pad with NaN
        pad = np.full((epoch - len(prev), *scores.shape), np.nan, np.float32)
        prev = np.concatenate([prev, pad])
    out = np.concatenate([prev, scores[None].astype(np.float32)])
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, out)
    tmp.replace(path)
    return out
