"""k-reciprocal re-ranking (Zhong et al. CVPR'17, METHODS §5.1) in O((Q+G) k) memory.

The original builds the dense (Q+G)^2 distance matrix, squares it, normalises each column by its
maximum, argsorts every row and fills dense V and Jaccard matrices. Here one pass over row blocks
keeps only what the algorithm reads -- each row's maximum and its k1+1 nearest neighbours -- and
the k-reciprocal encoding / Jaccard distance come from reid-cluster's shared kernel
(:mod:`reid_cluster.kreciprocal`). The query x gallery result is produced in query chunks, so
evaluation can consume it without ever holding it whole.

Bit-level notes: distances are squared again as in the original (with camera-sim's negative
entries this flips their sign there too), the normalisation is the original's column maximum,
and row i of the normalised matrix is column i of the input matrix, so asymmetric inputs give
the original's result as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from reid_eval.distances import EvalContext, block_distance

#: query rows -> (len(rows), G) raw input distances M[num_query:, rows].T (float32)
RowProvider = Callable[[np.ndarray], np.ndarray]
#: (rows, cols) -> raw input distances M[cols, rows] (1-D)
PairProvider = Callable[[np.ndarray, np.ndarray], np.ndarray]

DEFAULT_BLOCK_BYTES = 128 * 2**20


def _check_params(k1: int, k2: int, lambda_value: float) -> None:
    if k1 < 1 or k2 < 1 or k2 > k1 + 1:
        raise ValueError(f"re-ranking needs k1 >= 1 and 1 <= k2 <= k1 + 1, got k1={k1}, k2={k2}")
    if not 0.0 <= lambda_value <= 1.0:
        raise ValueError(f"lambda_value must lie in [0, 1], got {lambda_value}")


class _Reranker:
    """The re-ranking state: row maxima, kNN lists and the sparse encoding V.

    ``feed(lists)`` offers the raw input distances to ``lists`` (a
    :class:`reid_cluster.knn.StreamTopK` over ``|d|``: list ``i`` must receive ``M[r, i]`` as
    candidate ``r`` for every ``r``, i.e. row ``i`` of the transposed matrix the original
    normalises); ``qg_fn(rows)`` returns ``M[num_query:, rows].T`` (the raw query x gallery
    block of those query rows, a fresh array).
    """

    def __init__(
        self, feed: Callable[[Any], None], qg_fn: RowProvider, pairs_fn: PairProvider,
        num_query: int, num_all: int, k1: int, k2: int, lambda_value: float, block_rows: int,
    ) -> None:
        from reid_cluster.knn import StreamTopK
        from reid_cluster.kreciprocal import k_reciprocal_encoding

        _check_params(k1, k2, lambda_value)
        self.qg_fn, self.nq, self.n = qg_fn, num_query, num_all
        self.lam = np.float32(lambda_value)
        self.block = block_rows
        k = min(k1 + 1, num_all)
        # the original ranks d^2 / max(d^2); |d| has the same order and max, so rank |d| in one
        # streaming pass (running top-k and maximum per list) and square / normalise only the
        # k kept values (same float32 operations)
        lists = StreamTopK(num_all, k, absolute=True)
        feed(lists)
        top, nn_idx, amax = lists.result()
        self.colmax = np.square(amax)
        nn_dist = np.square(top) / self.colmax[:, None]

        def pair_distance(r: np.ndarray, c: np.ndarray) -> np.ndarray:
            raw = np.asarray(pairs_fn(r, c), dtype=np.float32)
            return np.square(raw) / self.colmax[r]

        self.v = k_reciprocal_encoding(
            nn_idx, nn_dist, k1, k2, weighting="exp", pair_distance=pair_distance
        )

    def chunks(self, chunk_rows: int | None = None) -> Iterator[tuple[slice, np.ndarray]]:
        """(query rows, re-ranked query x gallery distances) blocks, float32."""
        from reid_cluster.kreciprocal import JaccardRows

        jaccard = JaccardRows(self.v)
        step = chunk_rows or self.block
        nq, lam = self.nq, self.lam
        for s in range(0, nq, step):
            rows = np.arange(s, min(nq, s + step))
            out = np.asarray(self.qg_fn(rows), dtype=np.float32)
            np.square(out, out=out)
            out /= self.colmax[rows][:, None]
            out *= lam  # λ·original, then + (1-λ)·Jaccard where Jaccard < 1, (1-λ) elsewhere
            j = jaccard(rows, clip_negative=False)[:, nq:].tocoo()
            jac = np.full(out.shape, np.float32(1) - lam, dtype=np.float32)  # Jaccard 1 here
            jac[j.row, j.col] = j.data * (np.float32(1) - lam)
            out += jac
            del jac
            yield slice(s, s + len(rows)), out


def _block_rows(num_all: int, block_bytes: int) -> int:
    return int(max(1, min(num_all, block_bytes // (max(num_all, 1) * 8))))


def _dense_providers(
    q_g: np.ndarray, q_q: np.ndarray, g_g: np.ndarray
) -> tuple[Callable[[Any], None], RowProvider, PairProvider]:
    nq = q_g.shape[0]

    def feed(lists: Any) -> None:  # list i <- column i of M = [[q_q, q_g], [q_g.T, g_g]]
        lists.offer(q_q, 0, 0, by_columns=True)
        lists.offer(q_g, 0, nq)  # M[nq + j, i] = q_g[i, j] for a query column i
        lists.offer(q_g, nq, 0, by_columns=True)
        lists.offer(g_g, nq, nq, by_columns=True)

    def qg_fn(rows: np.ndarray) -> np.ndarray:
        return q_g[rows]

    def pairs_fn(r: np.ndarray, c: np.ndarray) -> np.ndarray:  # M[c, r]
        out = np.empty(len(r), dtype=np.float32)
        cq, rq = c < nq, r < nq
        m = cq & rq
        out[m] = q_q[c[m], r[m]]
        m = cq & ~rq
        out[m] = q_g[c[m], r[m] - nq]
        m = ~cq & rq
        out[m] = q_g[r[m], c[m] - nq]
        m = ~cq & ~rq
        out[m] = g_g[c[m] - nq, r[m] - nq]
        return out

    return feed, qg_fn, pairs_fn


def re_ranking(
    q_g_dist: Any, q_q_dist: Any, g_g_dist: Any, k1: int = 20, k2: int = 6, lambda_value: float = 0.3,
    *, block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> np.ndarray:
    """Drop-in for the original ``re_ranking(q_g_dist, q_q_dist, g_g_dist, k1, k2, lambda_value)``.

    Same inputs (distance matrices) and the same (Q, G) float32 output; besides the inputs and
    the output it holds only O((Q+G) k1) state. Use :func:`rerank_features` to avoid the dense
    inputs as well.
    """
    q_g = np.asarray(q_g_dist, dtype=np.float32)
    q_q = np.asarray(q_q_dist, dtype=np.float32)
    g_g = np.asarray(g_g_dist, dtype=np.float32)
    nq, ng = q_g.shape
    if q_q.shape != (nq, nq) or g_g.shape != (ng, ng):
        raise ValueError(
            f"shapes do not fit: q_g {q_g.shape}, q_q {q_q.shape} (want {(nq, nq)}), "
            f"g_g {g_g.shape} (want {(ng, ng)})"
        )
    feed, qg_fn, pairs_fn = _dense_providers(q_g, q_q, g_g)
    rr = _Reranker(feed, qg_fn, pairs_fn, nq, nq + ng, k1, k2, lambda_value,
                   _block_rows(nq + ng, block_bytes))
    out = np.empty((nq, ng), dtype=np.float32)
    for rows, block in rr.chunks():
        out[rows] = block
    return out


def rerank_chunks(
    context: EvalContext, pm: Any = None, k1: int = 20, k2: int = 6, lambda_value: float = 0.3,
    *, block_bytes: int = DEFAULT_BLOCK_BYTES, chunk_rows: int | None = None,
) -> Iterator[tuple[slice, np.ndarray]]:
    """Re-ranked (query rows, query x gallery) blocks from the features of ``context``.

    Every q-g, q-q and g-g distance goes through the ``reid_modify_distance`` hooks of ``pm``
    (block by block). Memory: O((Q+G) k1) plus one (block x (Q+G)) distance block.
    """
    n = int(context.features.shape[0])
    nq = context.num_query
    block = _block_rows(n, block_bytes)
    dev = context.features.device

    def feed(lists: Any) -> None:  # features: M is symmetric, so row i of M is column i
        for s in range(0, n, block):
            r = torch.arange(s, min(n, s + block), device=dev)
            lists.offer(block_distance(context, r, None, pm).cpu().numpy(), s, 0)

    def qg_fn(rows: np.ndarray) -> np.ndarray:
        r = torch.from_numpy(rows).to(dev)
        return block_distance(context, r, slice(nq, n), pm).cpu().numpy()

    dim = max(1, int(context.features.shape[1]))
    pair_step = max(1024, (32 << 20) // (4 * dim))  # bound the gathered (pairs x dim) rows

    def pairs_fn(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        dev = context.features.device
        out = np.empty(len(r), dtype=np.float32)
        # the original reads M[c, r]; on features both orders give the same distance
        for s in range(0, len(r), pair_step):
            rr = torch.from_numpy(r[s : s + pair_step]).to(dev)
            cc = torch.from_numpy(c[s : s + pair_step]).to(dev)
            out[s : s + pair_step] = block_distance(context, rr, cc, pm, paired=True).cpu().numpy()
        return out

    rr = _Reranker(feed, qg_fn, pairs_fn, nq, n, k1, k2, lambda_value, block)
    yield from rr.chunks(chunk_rows)


def rerank_features(
    context: EvalContext, pm: Any = None, k1: int = 20, k2: int = 6, lambda_value: float = 0.3,
    *, block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> np.ndarray:
    """The dense re-ranked (Q, G) matrix from features (see :func:`rerank_chunks`)."""
    out = np.empty((context.num_query, context.num_gallery), dtype=np.float32)
    for rows, block in rerank_chunks(context, pm, k1, k2, lambda_value, block_bytes=block_bytes):
        out[rows] = block
    return out
