"""Distributed runs: cluster once on one rank and broadcast the pseudo labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch.distributed as dist

__all__ = ["compute_and_broadcast", "distributed_cluster"]


def compute_and_broadcast(fn: Callable[..., Any], *args: Any, src: int = 0, group: Any = None,
                          **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` on rank ``src`` only and return its (picklable) result on
    every rank (``torch.distributed.broadcast_object_list``; works with gloo and NCCL).

    Without an initialised process group it just calls ``fn``. The other ranks never run
    ``fn``, so they never build the kNN graph or the distance; the result travels pickled.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return fn(*args, **kwargs)
    box = [fn(*args, **kwargs) if dist.get_rank(group) == src else None]
    dist.broadcast_object_list(box, src=src, group=group)
    return box[0]


def distributed_cluster(clusterer: Any, features: Any = None, *, src: int = 0, group: Any = None,
                        **kwargs: Any) -> Any:
    """``clusterer.cluster(features, **kwargs)`` on rank ``src``, the resulting
    :class:`~reid_cluster.PseudoLabels` broadcast to all ranks. Other ranks may pass
    ``features=None`` (only ``src`` needs the gathered features). The distance stays sparse on
    ``src`` (O(N·k)); no rank holds N x N.

    A clusterer with state chosen at its first call (DBSCAN ``eps="auto"``) keeps that state
    on ``src``; the chosen value travels in ``telemetry["eps"]``.
    """
    return compute_and_broadcast(lambda: clusterer.cluster(features, **kwargs), src=src,
                                 group=group)
