"""Distances between features, the distance-modifying hook, and model ensembles.

All distances are computed in blocks of the combined index space ``[queries; gallery]`` (query
``i`` is index ``i``, gallery ``j`` is ``num_query + j``) so that evaluation and re-ranking never
need a full matrix; every block goes through the ``reid_modify_distance`` hook before it is used.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

METRICS = ("sqeuclidean", "cosine")


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown distance metric {metric!r}; choices: {', '.join(METRICS)}")
    return metric


def as_features(x: Any, name: str = "features") -> torch.Tensor:
    """A float32 2-D tensor (numpy arrays are wrapped without copying)."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, D), got shape {tuple(t.shape)}")
    return t.float()


def normalize(x: Any) -> torch.Tensor:
    """Row-wise L2 normalisation (zero rows stay zero)."""
    return torch.nn.functional.normalize(as_features(x), dim=1)


def ensemble_features(features: Sequence[Any]) -> torch.Tensor:
    """Concatenate per-model features after L2-normalising each, then re-normalise (METHODS §5.2).

    The order of ``features`` is the concatenation order; every entry must have the same rows.
    """
    if not features:
        raise ValueError("ensemble_features needs at least one feature matrix")
    parts = [normalize(f) for f in features]
    rows = {p.shape[0] for p in parts}
    if len(rows) != 1:
        raise ValueError(f"ensemble members have different numbers of rows: {[p.shape[0] for p in parts]}")
    return normalize(torch.cat(parts, dim=1))


def pairwise_distance(x: Any, y: Any, metric: str = "sqeuclidean", *,
                      x_sq: torch.Tensor | None = None, y_sq: torch.Tensor | None = None) -> torch.Tensor:
    """(len(x), len(y)) distances, features used as given (normalise first if wanted).

    ``sqeuclidean``: ``|x|^2 + |y|^2 - 2 x.y`` (not clamped, like the references; on
    L2-normalised features this is ``2 - 2 cos``); ``cosine``: ``1 - x.y / (|x||y|)``.
    ``x_sq`` / ``y_sq``: the squared row norms when already known (same values as computed here).
    """
    check_metric(metric)
    x, y = as_features(x, "x"), as_features(y, "y")
    if metric == "cosine":
        return 1.0 - normalize(x) @ normalize(y).T
    # squared norms by a reduction (no N x D temporary), then one GEMM in place
    xx = _sq_norms(x) if x_sq is None else x_sq
    yy = _sq_norms(y) if y_sq is None else y_sq
    d = xx[:, None] + yy[None, :]
    return d.addmm_(x, y.T, beta=1.0, alpha=-2.0)


def _sq_norms(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(x, dim=1).square_()


def paired_distance(x: torch.Tensor, y: torch.Tensor, metric: str = "sqeuclidean") -> torch.Tensor:
    """Distances between row ``k`` of ``x`` and row ``k`` of ``y`` (same formula as above)."""
    if metric == "cosine":
        return 1.0 - (normalize(x) * normalize(y)).sum(1)
    return (x * x).sum(1) + (y * y).sum(1) - 2.0 * (x * y).sum(1)


@dataclass
class EvalContext:
    """What distance hooks may look at during one evaluation.

    ``features`` holds the query rows then the gallery rows (combined index space); ``samples``
    likewise (``(path, pid, camid[, modality])`` tuples, may be empty); ``extras`` is a dict the
    caller fills with anything plugins need (e.g. the runner stores camera-model features under
    ``"camera_features"``, an (N, d) tensor in the same combined order) and that hooks may use as
    a cache across the blocks of one evaluation.
    """

    num_query: int
    features: torch.Tensor
    metric: str = "sqeuclidean"
    samples: Sequence[Any] = ()
    extras: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def num_gallery(self) -> int:
        return int(self.features.shape[0]) - self.num_query

    def sq_norms(self) -> torch.Tensor:
        """Squared L2 norms of ``features`` (computed once per features tensor, then reused)."""
        cache = self.__dict__.get("_sq_norms_cache")
        if cache is None or cache[0] is not self.features:
            cache = (self.features, _sq_norms(self.features.float()))
            self.__dict__["_sq_norms_cache"] = cache
        return cache[1]


@dataclass
class DistanceBlock:
    """A block of distances in the combined ``[queries; gallery]`` index space.

    ``values`` (a float tensor, modify it in place) is ``(len(rows), len(cols))`` when
    ``paired`` is False; when ``paired`` is True it is 1-D and ``values[k]`` is the distance of
    the pair ``(rows[k], cols[k])`` (re-ranking asks for scattered pairs). ``rows``/``cols`` are
    int64 tensors of combined indices (``< num_query``: query, else gallery).
    """

    values: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    paired: bool = False


def subtract_feature_distance(block: DistanceBlock, features: torch.Tensor, weight: float) -> None:
    """``block.values -= weight * ||f_row - f_col||^2`` for auxiliary ``features`` (combined order).

    The camera-sim rule (METHODS §4.2) is ``subtract_feature_distance(block, camera_feats, 0.1)``
    with L2-normalised camera-model features.
    """
    f = features.to(block.values.device, torch.float32)
    fr, fc = f[block.rows.to(f.device)], f[block.cols.to(f.device)]
    if block.paired:
        block.values.sub_(weight * paired_distance(fr, fc))
    else:
        block.values.sub_(weight * pairwise_distance(fr, fc))


def apply_distance_hooks(block: DistanceBlock, context: EvalContext, pm: Any = None) -> DistanceBlock:
    """Call ``reid_modify_distance`` on ``block`` (no-op without a plugin manager)."""
    if pm is not None:
        pm.hook.reid_modify_distance(distances=block, context=context)
    return block


def block_distance(
    context: EvalContext, rows: torch.Tensor, cols: torch.Tensor | slice | None, pm: Any = None,
    paired: bool = False,
) -> torch.Tensor:
    """Distances of ``rows`` x ``cols`` (or of the pairs when ``paired``), hooks applied.

    ``cols=None`` means every row of the combined set, a ``slice`` a run of consecutive ones
    (e.g. the whole gallery); both are read without copying the features.
    """
    f = context.features
    fr = f[rows]
    span: slice | None = None
    if cols is None:
        cols = slice(0, f.shape[0])
    if isinstance(cols, slice):
        span = slice(*cols.indices(f.shape[0])[:2])
        cols = torch.arange(span.start, span.stop, device=f.device)
    fc = f[span] if span is not None else f[cols]
    if paired:
        values = paired_distance(fr, fc, context.metric)
    elif context.metric == "sqeuclidean":
        sq = context.sq_norms()
        values = pairwise_distance(fr, fc, context.metric, x_sq=sq[rows],
                                   y_sq=sq[span] if span is not None else sq[cols])
    else:
        values = pairwise_distance(fr, fc, context.metric)
    block = DistanceBlock(values, rows, cols, paired)
    apply_distance_hooks(block, context, pm)
    return block.values


def query_gallery_chunks(
    context: EvalContext, pm: Any = None, chunk_bytes: int = 256 * 2**20
) -> Iterator[tuple[slice, torch.Tensor]]:
    """(query rows, query x gallery distances) blocks covering every query once, hooks applied."""
    nq, ng = context.num_query, context.num_gallery
    step = int(max(1, min(nq, chunk_bytes // (max(ng, 1) * 8))))
    dev = context.features.device
    for s in range(0, nq, step):
        rows = slice(s, min(nq, s + step))
        yield rows, block_distance(context, torch.arange(rows.start, rows.stop, device=dev),
                                   slice(nq, nq + ng), pm)


def make_context(
    query_features: Any,
    gallery_features: Any,
    *,
    metric: str = "sqeuclidean",
    normalize_features: bool = True,
    query_samples: Sequence[Any] = (),
    gallery_samples: Sequence[Any] = (),
    extras: dict[str, Any] | None = None,
    device: str | torch.device | None = None,
) -> EvalContext:
    """An :class:`EvalContext` from query / gallery features (L2-normalised by default)."""
    check_metric(metric)
    qf, gf = as_features(query_features, "query_features"), as_features(gallery_features, "gallery_features")
    if qf.shape[1] != gf.shape[1]:
        raise ValueError(f"query features have dim {qf.shape[1]} but gallery features {gf.shape[1]}")
    f = torch.cat([qf, gf], 0)
    if device is not None:
        f = f.to(device)
    if normalize_features:
        f = torch.nn.functional.normalize(f, dim=1)
    return EvalContext(
        num_query=qf.shape[0],
        features=f,
        metric=metric,
        samples=list(query_samples) + list(gallery_samples),
        extras=dict(extras or {}),
    )


def compute_distance_matrix(context: EvalContext, pm: Any = None) -> torch.Tensor:
    """The dense query x gallery distance matrix (hooks applied), on the CPU."""
    parts = [d.cpu() for _, d in query_gallery_chunks(context, pm)]
    if not parts:
        return torch.zeros(0, context.num_gallery)
    return torch.cat(parts, 0)
