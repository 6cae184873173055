"""Sparse k-reciprocal encoding and Jaccard distance (Zhong et al. CVPR'17; METHODS §0.6, §5.1).

The kernel works from a precomputed nearest-neighbour ranking, so the same code serves
clustering (:func:`reid_cluster.jaccard_distance`, SpCL/MMT variants) and query-time re-ranking
(reid-eval). Memory is O(N·K): nothing N x N is ever allocated.

Conventions (the ones the original implementations use for their ``initial_rank``):

* ``nn_idx`` is an (N, K) integer array; row ``i`` lists neighbours of ``i`` by ascending
  distance **with ``i`` itself included** (normally in column 0, as it is in every original).
* The k1-reciprocal set R(i, k1) is built from the first ``min(k1 + 1, K)`` columns — exactly
  the numpy slice ``initial_rank[i, :k1 + 1]`` of the originals. So

  - SpCL / cluster-contrast / PPLR / MMT+ (``compute_jaccard_distance``) searched only ``k1``
    neighbours with faiss (self included) and sliced ``k1 + 1`` columns: pass ``K == k1``
    columns; the slice is truncated to ``k1`` (self + k1 - 1 neighbours);
  - MMT (``compute_jaccard_dist``) and Zhong's re-ranking rank all points: pass ``K >= k1 + 1``
    columns (self + k1 neighbours).

* The half sets R(j, round(k1/2)) use the first ``min(int(np.around(k1 / 2)) + 1, K)`` columns
  (numpy's round-half-to-even, as the originals); a candidate's half set is added when
  ``|R(j, k1/2) ∩ R(i, k1)| > 2/3 · |R(j, k1/2)|``.
* Local query expansion averages the rows of V over the first ``k2`` columns (self included);
  ``k2 == 1`` skips it, as in the originals.
* Weights: for each member ``m`` of the expanded set of ``i``, ``w = exp(-d(i, m))`` normalised
  over the set. ``d`` is whatever distance the caller's original uses (SpCL: ``2 - 2 cos`` of
  L2-normalised features; MMT: squared Euclidean divided by the row maximum; Zhong's
  re-ranking: the squared input distance divided by its column maximum). ``d(i, m)`` is read
  from ``nn_dist`` when ``m`` is in row ``i`` of ``nn_idx``; otherwise it is asked from
  ``pair_distance(rows, cols)`` (vectorised over pairs). ``weighting="softmax"`` subtracts the
  row minimum before exponentiating (torch's ``softmax``, as SpCL), ``"exp"`` exponentiates the
  raw distances (MMT, Zhong); both give the same V up to rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
import scipy.sparse as sp
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

__all__ = ["k_reciprocal_encoding", "jaccard_from_encoding", "k_reciprocal_sets", "JaccardRows"]

PairDistance = Callable[[np.ndarray, np.ndarray], np.ndarray]


# --------------------------------------------------------------------------- numba kernels


@numba.njit(cache=True, nogil=True)
def _reciprocal_padded(nn_idx: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """R(i) = {j in nn_idx[i, :c] : i in nn_idx[j, :c]}, in forward order; padded (N, c)."""
    n = nn_idx.shape[0]
    out = np.full((n, c), -1, dtype=np.int64)
    lens = np.zeros(n, dtype=np.int64)
    for i in range(n):
        cnt = 0
        for a in range(c):
            j = nn_idx[i, a]
            for b in range(c):
                if nn_idx[j, b] == i:
                    out[i, cnt] = j
                    cnt += 1
                    break
        lens[i] = cnt
    return out, lens


@numba.njit(cache=True, nogil=True)
def _expand_row(i, r1, l1, rh, lh, stamp, seen, buf):  # type: ignore[no-untyped-def]
    """Fill ``buf`` with the sorted unique expanded set of row ``i``; return its length.

    ``stamp[m] == i`` marks the members of R(i, k1) and ``seen[m] == i`` those already in
    ``buf`` (per-thread arrays, never cleared: rows are distinct), so a half set's overlap
    costs one look-up per member and only unique members are sorted.
    """
    n = 0
    for a in range(l1[i]):
        m = r1[i, a]
        stamp[m] = i
        if seen[m] != i:
            seen[m] = i
            buf[n] = m
            n += 1
    for a in range(l1[i]):
        cand = r1[i, a]
        lc = lh[cand]
        inter = 0
        for b in range(lc):
            if stamp[rh[cand, b]] == i:
                inter += 1
        if inter > (2.0 / 3.0) * lc:
            for b in range(lc):
                m = rh[cand, b]
                if seen[m] != i:
                    seen[m] = i
                    buf[n] = m
                    n += 1
    buf[:n].sort()
    return n


@numba.njit(cache=True, parallel=True)
def _expanded_sets(r1, l1, rh, lh, nchunks):  # type: ignore[no-untyped-def]
    n = r1.shape[0]
    width = r1.shape[1] + r1.shape[1] * rh.shape[1]
    counts = np.zeros(n + 1, dtype=np.int64)
    step = (n + nchunks - 1) // nchunks
    for c in numba.prange(nchunks):
        buf = np.empty(width, dtype=np.int64)
        stamp = np.full(n, -1, dtype=np.int64)
        seen = np.full(n, -1, dtype=np.int64)
        for i in range(c * step, min(n, (c + 1) * step)):
            counts[i + 1] = _expand_row(i, r1, l1, rh, lh, stamp, seen, buf)
    indptr = np.cumsum(counts)
    indices = np.empty(indptr[n], dtype=np.int64)
    for c in numba.prange(nchunks):
        buf = np.empty(width, dtype=np.int64)
        stamp = np.full(n, -1, dtype=np.int64)
        seen = np.full(n, -1, dtype=np.int64)
        for i in range(c * step, min(n, (c + 1) * step)):
            u = _expand_row(i, r1, l1, rh, lh, stamp, seen, buf)
            indices[indptr[i] : indptr[i] + u] = buf[:u]
    return indptr, indices


@numba.njit(cache=True, parallel=True)
def _lookup_dist(indptr, indices, nn_idx, nn_dist):  # type: ignore[no-untyped-def]
    """Distance of each (row, member) pair read from the kNN lists; NaN where absent."""
    n = indptr.shape[0] - 1
    k = nn_idx.shape[1]
    out = np.full(indices.shape[0], np.nan, dtype=np.float64)
    for i in numba.prange(n):
        for p in range(indptr[i], indptr[i + 1]):
            m = indices[p]
            for a in range(k):
                if nn_idx[i, a] == m:
                    out[p] = nn_dist[i, a]
                    break
    return out


@intrinsic
def _ctz(typingctx, word):  # type: ignore[no-untyped-def]
    """Count of trailing zero bits of a non-zero uint64 (the index of its lowest set bit)."""
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))

    return sig, codegen


@numba.njit(cache=True, nogil=True)
def _jaccard_row(i, v_ptr, v_idx, v_val, c_ptr, c_idx, c_val, acc, bits):  # type: ignore[no-untyped-def]
    """Accumulate sum_k min(V_ik, V_jk) into ``acc[j]`` and set bit ``j`` of ``bits``."""
    for p in range(v_ptr[i], v_ptr[i + 1]):
        k = v_idx[p]
        vi = v_val[p]
        for q in range(c_ptr[k], c_ptr[k + 1]):
            j = c_idx[q]
            vj = c_val[q]
            acc[j] += vi if vi < vj else vj
            bits[j >> 6] |= np.uint64(1) << np.uint64(j & 63)


@numba.njit(cache=True, nogil=True)
def _touched_count(i, v_ptr, v_idx, c_ptr, c_idx, bits):  # type: ignore[no-untyped-def]
    """Number of distinct columns ``j`` reached from row ``i`` (``bits`` is left cleared)."""
    cnt = 0
    for p in range(v_ptr[i], v_ptr[i + 1]):
        k = v_idx[p]
        for q in range(c_ptr[k], c_ptr[k + 1]):
            j = c_idx[q]
            m = np.uint64(1) << np.uint64(j & 63)
            if not bits[j >> 6] & m:
                bits[j >> 6] |= m
                cnt += 1
    bits[:] = 0
    return cnt


@numba.njit(cache=True, parallel=True)
def _jaccard_kernel(rows, n_cols, v_ptr, v_idx, v_val, c_ptr, c_idx, c_val, clip, nchunks):  # type: ignore[no-untyped-def]
    """CSR rows of ``1 - m / (2 - m)`` (< 1 only), sorted by column.

    A first pass counts each row's reached columns (a bitmap, no arithmetic) to size the
    output; the second accumulates ``m`` and walks the bitmap word by word, which yields the
    columns in order without sorting. Returns ``(indptr, indices, data, filled)``; a row whose
    ``filled`` is below its slot count (an ``m`` so small that the distance rounds to 1) leaves
    unused slots at its end for the caller to drop.
    """
    nr = rows.shape[0]
    nw = (n_cols + 63) >> 6
    counts = np.zeros(nr + 1, dtype=np.int64)
    step = (nr + nchunks - 1) // nchunks
    for b in numba.prange(nchunks):
        bits = np.zeros(nw, dtype=np.uint64)
        for r in range(b * step, min(nr, (b + 1) * step)):
            counts[r + 1] = _touched_count(rows[r], v_ptr, v_idx, c_ptr, c_idx, bits)
    indptr = np.cumsum(counts)
    out_idx = np.empty(indptr[nr], dtype=np.int32)
    out_val = np.empty(indptr[nr], dtype=np.float32)
    filled = np.empty(nr, dtype=np.int64)
    for b in numba.prange(nchunks):
        acc = np.zeros(n_cols, dtype=np.float64)
        bits = np.zeros(nw, dtype=np.uint64)
        for r in range(b * step, min(nr, (b + 1) * step)):
            _jaccard_row(rows[r], v_ptr, v_idx, v_val, c_ptr, c_idx, c_val, acc, bits)
            pos = indptr[r]
            for wi in range(nw):
                word = bits[wi]
                if word:
                    bits[wi] = 0
                    while word:
                        j = (wi << 6) + _ctz(word)
                        word &= word - np.uint64(1)
                        m = acc[j]
                        acc[j] = 0.0
                        d = np.float32(1.0 - m / (2.0 - m))
                        if d < np.float32(1.0):
                            if clip and d < np.float32(0.0):
                                d = np.float32(0.0)
                            out_idx[pos] = j
                            out_val[pos] = d
                            pos += 1
            filled[r] = pos - indptr[r]
    return indptr, out_idx, out_val, filled


# --------------------------------------------------------------------------- public API


def _check_nn(nn_idx: np.ndarray) -> np.ndarray:
    nn_idx = np.ascontiguousarray(np.asarray(nn_idx), dtype=np.int64)
    if nn_idx.ndim != 2 or nn_idx.shape[1] < 1:
        raise ValueError(f"nn_idx must be a (N, K) array with K >= 1, got shape {nn_idx.shape}")
    n = nn_idx.shape[0]
    if nn_idx.size and (nn_idx.min() < 0 or nn_idx.max() >= n):
        raise ValueError(
            f"nn_idx holds indices outside [0, {n}); the ranking must be over the same N points "
            "(faiss pads missing neighbours with -1: search with k <= N)"
        )
    return nn_idx


def k_reciprocal_sets(nn_idx: np.ndarray, k: int) -> list[np.ndarray]:
    """R(i, k) for every ``i``: neighbours ``j`` in ``nn_idx[i, :k + 1]`` with ``i`` in
    ``nn_idx[j, :k + 1]`` (slices truncated to the K available columns), in ranking order."""
    nn_idx = _check_nn(nn_idx)
    c = min(k + 1, nn_idx.shape[1])
    pad, lens = _reciprocal_padded(nn_idx, c)
    return [pad[i, : lens[i]] for i in range(nn_idx.shape[0])]


def k_reciprocal_encoding(
    nn_idx: np.ndarray,
    nn_dist: np.ndarray,
    k1: int,
    k2: int,
    *,
    weighting: str = "softmax",
    pair_distance: PairDistance | None = None,
) -> sp.csr_matrix:
    """The k-reciprocal encoding V (after local query expansion) as a sparse N x N matrix.

    :param nn_idx: (N, K) neighbour ranking, ascending, self included (see module docstring for
        how K expresses the SpCL ``k1+1``-slice-of-a-``k1``-search and the MMT conventions).
    :param nn_dist: (N, K) distances aligned with ``nn_idx``, in the form the weights use
        (``w = exp(-d)`` normalised over the expanded set).
    :param k1: reciprocal-neighbour size (columns ``[:k1 + 1]``, halves ``[:round(k1/2) + 1]``).
    :param k2: query-expansion size (rows of V averaged over ``nn_idx[i, :k2]``; 1 = none).
    :param weighting: ``"softmax"`` (row-min subtracted, SpCL) or ``"exp"`` (MMT, Zhong).
    :param pair_distance: ``f(rows, cols) -> d`` for expanded-set members that are not in row
        ``i`` of ``nn_idx`` (members of a neighbour's half set can be); required whenever such
        pairs occur, e.g. ``lambda r, c: 2 - 2 * (x[r] * x[c]).sum(1)``.
    :returns: ``scipy.sparse.csr_matrix`` (N x N, float32, sorted indices) whose rows sum to 1;
        O(N·k) non-zeros (about 80 per row for k1 = 30, k2 = 6).
    """
    if weighting not in ("softmax", "exp"):
        raise ValueError(f"weighting must be one of ['exp', 'softmax'], got {weighting!r}")
    if k1 < 1 or k2 < 1:
        raise ValueError(f"k1 and k2 must be >= 1, got k1={k1}, k2={k2}")
    nn_idx = _check_nn(nn_idx)
    nn_dist = np.ascontiguousarray(np.asarray(nn_dist), dtype=np.float64)
    if nn_dist.shape != nn_idx.shape:
        raise ValueError(f"nn_dist shape {nn_dist.shape} differs from nn_idx shape {nn_idx.shape}")
    n, kk = nn_idx.shape
    if k2 > kk:
        raise ValueError(f"k2={k2} needs at least {k2} neighbour columns, nn_idx has {kk}")
    c1 = min(k1 + 1, kk)
    ch = min(int(np.around(k1 / 2)) + 1, kk)
    r1, l1 = _reciprocal_padded(nn_idx, c1)
    rh, lh = _reciprocal_padded(nn_idx, ch)
    indptr, indices = _expanded_sets(r1, l1, rh, lh, max(1, min(n, 4 * numba.get_num_threads())))
    dist = _lookup_dist(indptr, indices, nn_idx, nn_dist)
    missing = np.flatnonzero(np.isnan(dist))
    if missing.size:
        if pair_distance is None:
            raise ValueError(
                f"{missing.size} expanded-set pairs are not in nn_idx (e.g. row "
                f"{np.searchsorted(indptr, missing[0], side='right') - 1}); pass pair_distance "
                "or more neighbour columns"
            )
        row_of = np.repeat(np.arange(n), np.diff(indptr))
        dist[missing] = np.asarray(
            pair_distance(row_of[missing], indices[missing]), dtype=np.float64
        ).reshape(-1)
    row_of = np.repeat(np.arange(n), np.diff(indptr))
    if weighting == "softmax":
        row_min = np.full(n, np.inf)
        np.minimum.at(row_min, row_of, dist)
        w = np.exp(-(dist - row_min[row_of]))
    else:
        w = np.exp(-dist)
    sums = np.bincount(row_of, weights=w, minlength=n)
    vals = (w / sums[row_of]).astype(np.float32)
    v = sp.csr_matrix((vals, indices.astype(np.int32), indptr), shape=(n, n))
    if k2 != 1:
        qe = sp.csr_matrix(
            (np.full(n * k2, 1.0 / k2, dtype=np.float32), nn_idx[:, :k2].reshape(-1).astype(np.int32),
             np.arange(0, n * k2 + 1, k2)),
            shape=(n, n),
        )
        v = (qe @ v).tocsr()
    v.sort_indices()
    return v


@numba.njit(cache=True, nogil=True)
def _compact(indptr, idx, val, filled):  # type: ignore[no-untyped-def]
    """Move each row's ``filled`` leading entries left over the unused slots, in place."""
    out = np.zeros_like(indptr)
    for r in range(len(filled)):
        out[r + 1] = out[r] + filled[r]
        src, dst = indptr[r], out[r]
        for t in range(filled[r]):
            idx[dst + t] = idx[src + t]
            val[dst + t] = val[src + t]
    return out


class JaccardRows:
    """Jaccard rows of one encoding, computed on demand: ``JaccardRows(V)(rows)`` equals
    ``jaccard_from_encoding(V, rows)``; V's column index is built once, so calling it for
    many row chunks (re-ranking's query chunks) costs no more than one call."""

    def __init__(self, v: sp.spmatrix) -> None:
        v = sp.csr_matrix(v, dtype=np.float32)
        v.sum_duplicates()
        self.n = v.shape[0]
        vc = v.T.tocsr()  # column k of V as row k: which rows hold it and their values
        self._arrays = (
            v.indptr.astype(np.int64), v.indices.astype(np.int64), v.data.astype(np.float64),
            vc.indptr.astype(np.int64), vc.indices.astype(np.int64), vc.data.astype(np.float64),
        )

    def __call__(self, rows: np.ndarray | None = None, *, clip_negative: bool = True) -> sp.csr_matrix:
        n_rows = self.n
        rows_arr = (np.arange(n_rows) if rows is None else np.asarray(rows)).astype(np.int64)
        if rows_arr.size and (rows_arr.min() < 0 or rows_arr.max() >= n_rows):
            raise ValueError(f"rows must lie in [0, {n_rows})")
        nchunks = max(1, min(len(rows_arr), 4 * numba.get_num_threads()))
        indptr, idx, val, filled = _jaccard_kernel(rows_arr, n_rows, *self._arrays,
                                                   clip_negative, nchunks)
        if (filled < np.diff(indptr)).any():  # drop the slots of pairs whose distance rounded to 1
            indptr = _compact(indptr, idx, val, filled)
            idx, val = idx[: indptr[-1]], val[: indptr[-1]]
        out = sp.csr_matrix((val, idx, indptr), shape=(len(rows_arr), n_rows))
        out.has_sorted_indices = True
        return out


def jaccard_from_encoding(
    v: sp.spmatrix, rows: np.ndarray | None = None, *, clip_negative: bool = True
) -> sp.csr_matrix:
    """Jaccard distance ``1 - m / (2 - m)``, ``m = Σ_k min(V_ik, V_jk)``, for the given rows.

    :param v: the encoding from :func:`k_reciprocal_encoding` (rows summing to 1).
    :param rows: row indices to compute (default all); the result has ``len(rows)`` rows and
        ``N`` columns (re-ranking uses the query rows only).
    :param clip_negative: clip rounding negatives to 0 (clustering references do; Zhong's
        re-ranking does not).
    :returns: ``csr_matrix`` float32 with sorted indices storing every pair whose distance is
        below 1, explicit zeros kept (the diagonal is stored, ~0 up to rounding); an absent entry means 1.
        For many row chunks of one V use :class:`JaccardRows`.
    """
    return JaccardRows(v)(rows, clip_negative=clip_negative)
