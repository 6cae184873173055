"""Hook specifications of reid-cluster.

The hooks reid-cluster calls to learn which kNN backends and clusterers exist. The built-ins
register through these same hooks (``reid_cluster.builtins``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reid_plugin import hookspec

if TYPE_CHECKING:
    pass

# --------------------------------------------------------------------------- registration


@hookspec
def reid_register_knn_backends() -> list[type[Any]]:
    """Return kNN backend classes (unique ``name``, e.g. ``torch``, ``faiss-flat``, ``faiss-ivf``).

    Who calls it and when: :func:`reid_cluster.knn_backend_registry`, when a kNN graph is
    requested by backend name (Jaccard distance, cross-agreement, re-ranking).
    A backend whose optional dependency is missing is still registered; building it raises an
    error that names the missing extra.

    :returns: a list of classes (may be empty); duplicate names are an error naming both.

    Rank contract:
        every rank (pure and cheap); the search itself runs on rank 0 only in distributed runs.

    .. versionadded:: 0.1
    """


@hookspec
def reid_register_clusterers() -> list[type[Any]]:
    """Return clusterer classes (unique ``name``, e.g. ``dbscan``, ``kmeans``).

    Who calls it and when: :func:`reid_cluster.clusterer_registry`, when a method builds its
    pseudo-labeller from config at the start of a run.

    :returns: a list of classes (may be empty); duplicate names are an error naming both.

    Rank contract:
        every rank (pure and cheap); clustering itself runs once (rank 0) and is broadcast.

    .. versionadded:: 0.1
    """
