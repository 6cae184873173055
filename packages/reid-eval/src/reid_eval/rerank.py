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

#: rows -> (len(rows), N) raw input distances M[:, rows].T (float32, a fresh array)
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
    """The re-ranking state: row maxima, kNN lists and the sparse encoding V."""

    def __init__(
        self, rows_fn: RowProvider, pairs_fn: PairProvider, num_query: int, num_all: int,
        k1: int, k2: int, lambda_value: float, block_bytes: int,
    ) -> None:
        from reid_cluster.kreciprocal import k_reciprocal_encoding

        _check_params(k1, k2, lambda_value)
        self.rows_fn, self.nq, self.n = rows_fn, num_query, num_all
        self.lam = np.float32(lambda_value)
        self.block = int(max(1, min(num_all, block_bytes // (max(num_all, 1) * 8))))
        k = min(k1 + 1, num_all)
        self.colmax = np.empty(num_all, dtype=np.float32)
        nn_idx = np.empty((num_all, k), dtype=np.int64)
        nn_dist = np.empty((num_all, k), dtype=np.float32)
        for s in range(0, num_all, self.block):
            rows = np.arange(s, min(num_all, s + self.block))
            # the original ranks d^2 / max(d^2); |d| has the same order and max, so rank |d| in
            # place and square / normalise only the k kept values (same float32 operations)
            a = np.asarray(rows_fn(rows), dtype=np.float32)  # a fresh block: modified in place
            np.abs(a, out=a)
            mx = np.square(a.max(1))
            self.colmax[rows] = mx
            top = torch.topk(torch.from_numpy(a), k, dim=1, largest=False, sorted=True)
            nn_idx[rows] = top.indices.numpy()
            nn_dist[rows] = np.square(top.values.numpy()) / mx[:, None]

        def pair_distance(r: np.ndarray, c: np.ndarray) -> np.ndarray:
            raw = np.asarray(pairs_fn(r, c), dtype=np.float32)
            return np.square(raw) / self.colmax[r]

        self.v = k_reciprocal_encoding(
            nn_idx, nn_dist, k1, k2, weighting="exp", pair_distance=pair_distance
        )

    def chunks(self, chunk_rows: int | None = None) -> Iterator[tuple[slice, np.ndarray]]:
        """(query rows, re-ranked query x gallery distances) blocks, float32."""
        from reid_cluster.kreciprocal import jaccard_from_encoding

        step = chunk_rows or self.block
        nq, lam = self.nq, self.lam
        for s in range(0, nq, step):
            rows = np.arange(s, min(nq, s + step))
            out = np.square(self.rows_fn(rows)[:, nq:].astype(np.float32))
            out /= self.colmax[rows][:, None]
            out *= lam  # λ·original, then + (1-λ)·Jaccard where Jaccard < 1, (1-λ) elsewhere
            jac = np.ones(out.shape, dtype=np.float32)
            j = jaccard_from_encoding(self.v, rows=rows, clip_negative=False).tocoo()
            g = j.col >= nq
            jac[j.row[g], j.col[g] - nq] = j.data[g]
            jac *= np.float32(1) - lam
            out += jac
            yield slice(s, s + len(rows)), out


def _dense_providers(q_g: np.ndarray, q_q: np.ndarray, g_g: np.ndarray) -> tuple[RowProvider, PairProvider]:
    nq = q_g.shape[0]

    def rows_fn(rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), nq + q_g.shape[1]), dtype=np.float32)
        isq = rows < nq
        rq, rg = rows[isq], rows[~isq] - nq
        out[isq, :nq] = q_q[:, rq].T
        out[isq, nq:] = q_g[rq, :]
        out[~isq, :nq] = q_g[:, rg].T
        out[~isq, nq:] = g_g[:, rg].T
        return out

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

    return rows_fn, pairs_fn


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
    rows_fn, pairs_fn = _dense_providers(q_g, q_q, g_g)
    rr = _Reranker(rows_fn, pairs_fn, nq, nq + ng, k1, k2, lambda_value, block_bytes)
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
    def rows_fn(rows: np.ndarray) -> np.ndarray:
        r = torch.from_numpy(rows).to(context.features.device)
        return block_distance(context, r, None, pm).cpu().numpy()

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

    n = int(context.features.shape[0])
    rr = _Reranker(rows_fn, pairs_fn, context.num_query, n, k1, k2, lambda_value, block_bytes)
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
