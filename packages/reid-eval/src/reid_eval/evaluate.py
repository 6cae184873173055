"""Evaluation from features: distances (+ hooks) -> optional re-ranking -> ranking, in chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from reid_eval.distances import EvalContext, make_context, query_gallery_chunks
from reid_eval.ranking import (
    DEFAULT_CHUNK_BYTES,
    RankStats,
    RemovalRule,
    as_ids,
    market_removal,
    rank_stats,
)
from reid_eval.rerank import rerank_chunks

RERANK_DEFAULTS = {"k1": 20, "k2": 6, "lambda_value": 0.3}


def rerank_options(rerank: Any) -> dict[str, Any] | None:
    """Normalise a ``rerank`` option: None/False (off), True (defaults 20/6/0.3) or a dict."""
    if rerank is None or rerank is False:
        return None
    if rerank is True:
        return dict(RERANK_DEFAULTS)
    if isinstance(rerank, dict):
        unknown = set(rerank) - set(RERANK_DEFAULTS)
        if unknown:
            raise ValueError(
                f"unknown re-ranking option(s) {sorted(unknown)}; choices: {sorted(RERANK_DEFAULTS)}"
            )
        return {**RERANK_DEFAULTS, **rerank}
    raise ValueError(f"rerank must be None, a bool or a dict of {sorted(RERANK_DEFAULTS)}, got {rerank!r}")


def distance_chunks(
    context: EvalContext, pm: Any = None, rerank: Any = None, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[tuple[slice, Any]]:
    """Query x gallery distance blocks (hooks applied, then re-ranked when asked)."""
    opts = rerank_options(rerank)
    if opts is None:
        yield from query_gallery_chunks(context, pm, chunk_bytes)
    else:
        yield from rerank_chunks(context, pm, opts["k1"], opts["k2"], opts["lambda_value"])


def evaluate_features(
    query_features: Any,
    gallery_features: Any,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any = None,
    g_camids: Any = None,
    *,
    max_rank: int = 50,
    metric: str = "sqeuclidean",
    normalize_features: bool = True,
    rerank: Any = None,
    pm: Any = None,
    context: EvalContext | None = None,
    removal: RemovalRule | None = None,
    top: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> dict[str, Any]:
    """Market-style metrics straight from features, in query chunks (no full distance matrix).

    ``rerank``: None / True / ``{"k1", "k2", "lambda_value"}``; ``pm``: plugin manager whose
    ``reid_modify_distance`` hooks are applied to every distance block; ``removal`` overrides
    the same-pid-same-camera rule (which is used when both camera id arrays are given).
    """
    ctx = context or make_context(
        query_features, gallery_features, metric=metric, normalize_features=normalize_features
    )
    stats, out = rank_from_context(ctx, q_pids, g_pids, q_camids, g_camids, pm=pm, rerank=rerank,
                                   removal=removal, top=top, chunk_bytes=chunk_bytes)
    out.update(stats.metrics(max_rank))
    return out


def rank_from_context(
    context: EvalContext, q_pids: Any, g_pids: Any, q_camids: Any = None, g_camids: Any = None,
    *, pm: Any = None, rerank: Any = None, removal: RemovalRule | None = None,
    top: int | None = None, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> tuple[RankStats, dict[str, Any]]:
    """Per-query rank statistics and the flags that describe how they were obtained."""
    qp, gp = as_ids(q_pids, "q_pids"), as_ids(g_pids, "g_pids")
    if len(qp) != context.num_query or len(gp) != context.num_gallery:
        raise ValueError(
            f"{len(qp)} query / {len(gp)} gallery ids for {context.num_query} / "
            f"{context.num_gallery} feature rows"
        )
    camera_filter = False
    if removal is None and q_camids is not None and g_camids is not None:
        removal = market_removal(qp, gp, as_ids(q_camids, "q_camids"), as_ids(g_camids, "g_camids"))
        camera_filter = True
    chunks = distance_chunks(context, pm, rerank, chunk_bytes)
    stats = rank_stats(chunks, qp, gp, removal, top=top)
    opts = rerank_options(rerank)
    return stats, {"camera_filter": camera_filter, "rerank": opts or False, "metric": context.metric}


def top_indices(chunks: Iterator[tuple[slice, Any]], num_query: int, k: int) -> np.ndarray:
    """The ``k`` smallest-distance gallery indices of every query, best first, (Q, k)."""
    import torch

    out: np.ndarray | None = None
    for rows, d in chunks:
        t = d if isinstance(d, torch.Tensor) else torch.from_numpy(np.asarray(d))
        kk = min(k, t.shape[1])
        idx = torch.topk(t.float(), kk, dim=1, largest=False, sorted=True).indices.cpu().numpy()
        if out is None:
            out = np.empty((num_query, kk), dtype=np.int64)
        out[rows] = idx
    return out if out is not None else np.zeros((0, k), dtype=np.int64)


def sample_fields(samples: Sequence[Any], name: str) -> tuple[np.ndarray, np.ndarray | None, list[Any], list[Any]]:
    """(pids, camids or None, paths, modalities) of ``(path, pid, camid[, modality])`` samples."""
    pids, cams, paths, mods = [], [], [], []
    for k, s in enumerate(samples):
        try:
            path, pid, camid = s[0], s[1], s[2]
        except (TypeError, IndexError):
            raise ValueError(
                f"{name}[{k}] = {s!r} is not a (path, pid, camid[, modality]) sample"
            ) from None
        pids.append(int(pid))
        cams.append(camid)
        paths.append(path)
        mods.append(getattr(s, "modality", s[3] if len(s) > 3 else None))
    camids = None if any(c is None for c in cams) else np.asarray(cams, dtype=np.int64)
    return np.asarray(pids, dtype=np.int64), camids, paths, mods
