"""Hook specifications of reid-eval.

The hooks reid-eval calls to learn which evaluation protocols exist and to let plugins adjust the
query-gallery distance before ranking. The built-in protocols register through these same hooks
(``reid_eval.builtins``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reid_plugin import hookspec

if TYPE_CHECKING:
    from reid_eval.distances import DistanceBlock, EvalContext

# --------------------------------------------------------------------------- registration


@hookspec
def reid_register_protocols() -> list[type[Any]]:
    """Return evaluation protocol classes (unique ``name``: ``market``, ``visda``, ``sysu``, ...).

    Who calls it and when: :func:`reid_eval.protocol_registry` (and ``create_protocol`` /
    ``list_protocols``), when an evaluation is configured. A protocol class subclasses
    :class:`reid_eval.EvalProtocol` (or duck-types it): ``Protocol(**options)`` then
    ``evaluate(query_feats, gallery_feats, query_samples, gallery_samples, *, pm=None,
    **options) -> dict`` with at least ``mAP``, ``cmc`` and ``mINP``.

    :returns: a list of classes (may be empty); duplicate names are an error naming both.

    Rank contract:
        every rank (pure and cheap).

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------- ranking


@hookspec
def reid_modify_distance(distances: DistanceBlock, context: EvalContext) -> None:
    """Modify a block of distances in place before re-ranking and ranking.

    Who calls it and when: every time reid-eval computes distances from features
    (:func:`reid_eval.block_distance`, used by the protocols, :func:`reid_eval.evaluate_features`
    and :func:`reid_eval.rerank_chunks`), right after the base metric and before any re-ranking
    or ranking. Evaluation works in blocks, so one evaluation calls the hook many times: for
    query x gallery row chunks, and when re-ranking also for rows of the combined
    ``[queries; gallery]`` set against all of it (q-g, q-q, g-g) and for scattered pairs.
    camera-sim subtracts ``0.1 * ||F_c(i) - F_c(j)||^2`` here
    (:func:`reid_eval.subtract_feature_distance` does exactly that). Implementations mutate
    ``distances.values`` in place and return ``None``; the change to entry (i, j) must depend
    only on i and j, so results do not depend on how the work is chunked.

    :param distances: a :class:`reid_eval.DistanceBlock`: ``values`` (float tensor,
        ``(len(rows), len(cols))``, or 1-D over pairs when ``paired`` is True), ``rows`` and
        ``cols`` (int64 indices into the combined order: query ``i`` is ``i``, gallery ``j`` is
        ``context.num_query + j``).
    :param context: the :class:`reid_eval.EvalContext` of this evaluation: ``num_query``,
        ``features`` (combined order), ``metric``, ``samples`` and ``extras`` (a dict the caller
        fills, e.g. ``extras["camera_features"]``; hooks may also cache in it).
    :returns: nothing.

    Rank contract:
        rank 0 only (evaluation metrics are computed on the main rank after features are
        gathered).

    .. versionadded:: 0.1
    """
