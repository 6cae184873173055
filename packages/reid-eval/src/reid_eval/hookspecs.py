"""Hook specifications of reid-eval.

The hooks reid-eval calls to learn which evaluation protocols exist and to let plugins adjust the
query-gallery distance before ranking. The built-in protocols register through these same hooks
(``reid_eval.builtins``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reid_plugin import hookspec

if TYPE_CHECKING:
    pass

# --------------------------------------------------------------------------- registration


@hookspec
def reid_register_protocols() -> list[type[Any]]:
    """Return evaluation protocol classes (unique ``name``: ``market``, ``visda``, ``sysu``, ...).

    Who calls it and when: :func:`reid_eval.protocol_registry`, when an evaluation is configured.

    :returns: a list of classes (may be empty); duplicate names are an error naming both.

    Rank contract:
        every rank (pure and cheap).

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------- ranking


@hookspec
def reid_modify_distance(distances: Any, context: Any) -> None:
    """Modify query-gallery distances in place before re-ranking and ranking.

    Who calls it and when: :func:`reid_eval.compute_distances` right after the base distance
    matrices are computed and before any re-ranking (camera-sim subtracts a weighted camera
    distance here). Implementations mutate ``distances`` in place and return ``None``.

    :param distances: the :class:`reid_eval.Distances` being built (``q_g``, and ``q_q``/``g_g``
        when re-ranking needs them).
    :param context: the :class:`reid_eval.EvalContext` (query/gallery samples, features, device,
        options) of this evaluation.

    Rank contract:
        rank 0 only (evaluation metrics are computed on the main rank after features are gathered).

    .. versionadded:: 0.1
    """
