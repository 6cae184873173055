"""CMC / mAP / mINP from distances, without sorting the whole gallery.

The reference implementations (torchreid, fast-reid, open-reid) argsort every query's whole gallery
and walk the sorted match vector. Every metric only needs the rank of each *positive* among the
kept gallery items, i.e. ``1 + #(kept items closer than it)``, and only items no farther than the
query's last positive can be closer than some positive. So this module lists the same-pid pairs
from a pid index (no Q x G comparison), and per query compacts the candidates no farther than its
last positive, sorts only those (numpy's SIMD sort) and reads each positive's rank with a binary
search. The cost is one pass over the distances plus a sort of the candidates (at worst the full
sort), and it works on query chunks, so a full distance matrix is never needed.

Ties: a query whose positive shares its distance with another item is recomputed with a
stable argsort (gallery order breaks ties); the references use an unstable sort there, so with
exact ties any two implementations may differ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

DEFAULT_CHUNK_BYTES = 256 * 2**20


class RemovalRule:
    """Which (query, gallery) pairs a protocol discards before ranking.

    ``fn(q_index, g_index) -> bool array`` is elementwise over index arrays of equal shape.
    ``same_pid_only=True`` promises that only same-pid pairs are ever discarded (Market rule), so
    the rule is evaluated on those few pairs only; otherwise it is evaluated on the whole chunk
    (fine for the small cross-modality galleries).
    """

    def __init__(self, fn: Callable[[np.ndarray, np.ndarray], np.ndarray], same_pid_only: bool) -> None:
        self.fn = fn
        self.same_pid_only = same_pid_only

    def __call__(self, qi: np.ndarray, gi: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(qi, gi), dtype=bool)


def as_ids(values: Any, name: str) -> np.ndarray:
    """An int64 numpy array from a sequence / array / tensor of ids; names ``name`` in errors."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.integer) or a.size == 0):
        raise ValueError(f"{name} must hold integers, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def as_distance(distmat: Any) -> np.ndarray:
    """A float numpy (Q, G) view of a distance matrix (CPU numpy input is not copied)."""
    if isinstance(distmat, torch.Tensor):
        t = distmat.detach().cpu()
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        distmat = t.numpy()
    d = np.asarray(distmat)
    if d.ndim != 2:
        raise ValueError(f"distmat must be 2-D (queries x gallery), got shape {d.shape}")
    if not np.issubdtype(d.dtype, np.floating) or d.dtype == np.float16:
        d = d.astype(np.float32)
    return d


def chunk_rows(num_rows: int, num_cols: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """How many query rows to process at once so the temporaries stay within ``chunk_bytes``."""
    per_row = max(1, num_cols) * 16  # distances, a mask and (worst case) candidate keys
    return int(max(1, min(num_rows, chunk_bytes // per_row)))


def market_removal(q_pids: np.ndarray, g_pids: np.ndarray, q_camids: np.ndarray, g_camids: np.ndarray) -> RemovalRule:
    """Discard gallery items with the same pid *and* camera as the query (Market protocol)."""

    def rule(qi: np.ndarray, gi: np.ndarray) -> np.ndarray:
        return (q_pids[qi] == g_pids[gi]) & (q_camids[qi] == g_camids[gi])

    return RemovalRule(rule, same_pid_only=True)


class _PidIndex:
    """Gallery positions grouped by pid, to list a query block's same-pid pairs in O(pairs)."""

    def __init__(self, g_pids: np.ndarray) -> None:
        self.order = np.argsort(g_pids, kind="stable")
        self.pids, self.starts, self.counts = np.unique(
            g_pids[self.order], return_index=True, return_counts=True
        )

    def pairs(self, q_pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, gallery index) of every same-pid pair, row-major, gallery index ascending."""
        k = np.searchsorted(self.pids, q_pids)
        k = np.minimum(k, len(self.pids) - 1) if len(self.pids) else k
        found = (self.pids[k] == q_pids) if len(self.pids) else np.zeros(len(q_pids), bool)
        cnt = np.where(found, self.counts[k] if len(self.pids) else 0, 0)
        rows = np.repeat(np.arange(len(q_pids)), cnt)
        total = int(cnt.sum())
        offs = np.cumsum(cnt) - cnt
        within = np.arange(total) - np.repeat(offs, cnt)
        start = np.repeat(np.where(found, self.starts[k] if len(self.pids) else 0, 0), cnt)
        return rows, self.order[start + within]


@dataclass
class RankStats:
    """Per-query results of ranking; metrics are derived by :meth:`metrics`.

    ``first_rank`` is the 1-based rank of the first true match among kept items (0: the query
    has no valid match and is skipped), ``ap`` / ``inp`` are NaN for skipped queries, ``ap_top``
    is the AP restricted to the top ``top`` kept items (VisDA), when requested.
    """

    first_rank: np.ndarray
    ap: np.ndarray
    inp: np.ndarray
    num_pos: np.ndarray
    ap_top: np.ndarray | None = None

    @property
    def valid(self) -> np.ndarray:
        return self.first_rank > 0

    def cmc(self, max_rank: int) -> np.ndarray:
        """First-match CMC of length ``max_rank`` over the valid queries."""
        valid = self.valid
        n = int(valid.sum())
        if n == 0:
            return np.zeros(max_rank)
        counts = np.bincount(np.minimum(self.first_rank[valid], max_rank + 1) - 1, minlength=max_rank + 1)
        return np.cumsum(counts[:max_rank]) / n

    def metrics(self, max_rank: int = 50) -> dict[str, Any]:
        valid = self.valid
        n = int(valid.sum())
        if n == 0:
            raise ValueError(
                "no query has a valid match in the gallery (after removal); cannot compute metrics"
            )
        return {
            "mAP": float(np.mean(self.ap[valid])),
            "cmc": self.cmc(max_rank),
            "mINP": float(np.mean(self.inp[valid])),
            "num_queries": int(len(self.first_rank)),
            "num_valid_queries": n,
        }


def _exact_row(d: np.ndarray, pos: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """1-based ranks of one row's kept positives with a stable sort (gallery order breaks ties)."""
    keep = ~removed
    order = np.argsort(d[keep], kind="stable")
    return np.flatnonzero(pos[keep][order]) + 1


def _positive_ranks(
    d: np.ndarray,
    q_rows: np.ndarray,
    q_pids: np.ndarray,
    g_pids: np.ndarray,
    pid_index: _PidIndex,
    removal: RemovalRule | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(row, 1-based rank among kept items) of every kept positive of a chunk, sorted by row.

    Only items no farther than a row's last kept positive can precede a positive, so only those
    candidates are sorted; a row where a positive ties with another item is redone exactly.
    """
    B, G = d.shape
    pr, pc = pid_index.pairs(q_pids[q_rows])
    dense_removed = None
    rr = rc = np.zeros(0, dtype=np.int64)
    if removal is not None and removal.same_pid_only:
        gone = removal(q_rows[pr], pc)
        rr, rc = pr[gone], pc[gone]
        pr, pc = pr[~gone], pc[~gone]
    elif removal is not None:
        dense_removed = removal(q_rows[:, None], np.arange(G)[None, :])
        d = np.where(dense_removed, np.inf, d)
        keep = ~dense_removed[pr, pc]
        pr, pc = pr[keep], pc[keep]
    pv = d[pr, pc]
    rv = d[rr, rc]
    p_split = np.searchsorted(pr, np.arange(B + 1))
    r_split = np.searchsorted(rr, np.arange(B + 1))
    ranks = np.empty(len(pr), dtype=np.int64)
    for r in np.flatnonzero(np.diff(p_split)):
        a, b = p_split[r], p_split[r + 1]
        ps = np.sort(pv[a:b])
        row = d[r]
        cand = row[row <= ps[-1]]  # everything that can precede a positive
        cand.sort()
        left = np.searchsorted(cand, ps, side="left")
        if (np.searchsorted(cand, ps, side="right") - left > 1).any():  # a tie: redo exactly
            removed = np.zeros(G, dtype=bool)
            if dense_removed is not None:
                removed = dense_removed[r]
            removed[rc[r_split[r] : r_split[r + 1]]] = True
            ranks[a:b] = _exact_row(row, g_pids == q_pids[q_rows[r]], removed)
            continue
        rank = left + 1
        ra, rb = r_split[r], r_split[r + 1]
        if rb > ra:  # removed same-pid items closer than a positive do not count
            rank -= np.searchsorted(np.sort(rv[ra:rb]), ps, side="left")
        ranks[a:b] = rank
    return pr, ranks


def rank_stats(
    chunks: Iterable[tuple[slice, np.ndarray]],
    q_pids: np.ndarray,
    g_pids: np.ndarray,
    removal: RemovalRule | None = None,
    top: int | None = None,
) -> RankStats:
    """Rank statistics from (query-rows, distance-chunk) pairs covering every query once."""
    Q = len(q_pids)
    first = np.zeros(Q, dtype=np.int64)
    ap = np.full(Q, np.nan)
    inp = np.full(Q, np.nan)
    num_pos = np.zeros(Q, dtype=np.int64)
    ap_top = np.full(Q, np.nan) if top is not None else None
    pid_index = _PidIndex(g_pids)
    for rows, chunk in chunks:
        d = as_distance(chunk)
        if d.shape[1] != len(g_pids):
            raise ValueError(
                f"distance chunk has {d.shape[1]} columns but there are {len(g_pids)} gallery ids"
            )
        # a NaN makes the sum NaN: one reduction instead of a boolean temporary per chunk
        if not np.isfinite(d.sum()) and np.isnan(d).any():
            raise ValueError(f"distances of queries {rows.start}..{rows.stop - 1} contain NaN")
        B = d.shape[0]
        q_rows = np.arange(Q)[rows]
        pr, rank = _positive_ranks(d, q_rows, q_pids, g_pids, pid_index, removal)
        n = np.bincount(pr, minlength=B)
        starts = np.cumsum(n) - n
        j = np.arange(len(pr)) - starts[pr] + 1  # 1-based hit number within the row
        prec = j / rank
        has = n > 0
        sl = q_rows
        num_pos[sl] = n
        first_r = np.zeros(B, dtype=np.int64)
        last_r = np.ones(B)
        first_r[pr[j == 1]] = rank[j == 1]
        is_last = j == n[pr]
        last_r[pr[is_last]] = rank[is_last]
        first[sl] = first_r
        ap_sum = np.bincount(pr, weights=prec, minlength=B)
        with np.errstate(invalid="ignore", divide="ignore"):
            ap[sl] = np.where(has, ap_sum / np.maximum(n, 1), np.nan)
            inp[sl] = np.where(has, n / last_r, np.nan)
            if ap_top is not None:
                hit = rank <= top
                s_top = np.bincount(pr[hit], weights=prec[hit], minlength=B)
                nh = np.bincount(pr[hit], minlength=B)
                ap_top[sl] = np.where(has, s_top / np.maximum(nh, 1), np.nan)
    return RankStats(first, ap, inp, num_pos, ap_top)


def dense_chunks(
    distmat: np.ndarray, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[tuple[slice, np.ndarray]]:
    """Row chunks (views) of a dense distance matrix."""
    Q, G = distmat.shape
    step = chunk_rows(Q, G, chunk_bytes)
    for s in range(0, Q, step):
        rows = slice(s, min(Q, s + step))
        yield rows, distmat[rows]


def evaluate_rank(
    distmat: Any,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any = None,
    g_camids: Any = None,
    max_rank: int = 50,
    *,
    return_per_query: bool = False,
) -> dict[str, Any]:
    """Market-style CMC, mAP and mINP of a (Q, G) distance matrix (smaller = more similar).

    Gallery items with the same pid and camera as the query are removed; queries without a
    remaining true match are skipped; CMC is first-match. With ``q_camids``/``g_camids`` None
    nothing is removed and the result has ``"camera_filter": False``.

    Returns a dict: ``mAP``, ``cmc`` (numpy array of length ``max_rank``; entry r-1 is Rank-r),
    ``mINP``, ``num_queries``, ``num_valid_queries``, ``camera_filter``; with
    ``return_per_query`` also ``query_ap`` and ``query_first_rank`` (NaN / 0 for skipped queries).

    Example::

        >>> r = evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids)
        >>> r["mAP"], r["cmc"][0]
    """
    d = as_distance(distmat)
    qp, gp = as_ids(q_pids, "q_pids"), as_ids(g_pids, "g_pids")
    if d.shape != (len(qp), len(gp)):
        raise ValueError(f"distmat has shape {tuple(d.shape)} but there are {len(qp)} query and {len(gp)} gallery ids")
    if (q_camids is None) != (g_camids is None):
        raise ValueError("give both q_camids and g_camids, or neither (no camera filtering)")
    removal = None
    if q_camids is not None:
        qc, gc = as_ids(q_camids, "q_camids"), as_ids(g_camids, "g_camids")
        if len(qc) != len(qp) or len(gc) != len(gp):
            raise ValueError("camera ids must have one entry per query / gallery item")
        removal = market_removal(qp, gp, qc, gc)
    stats = rank_stats(dense_chunks(d), qp, gp, removal)
    out = stats.metrics(max_rank)
    out["camera_filter"] = removal is not None
    if return_per_query:
        out["query_ap"] = stats.ap
        out["query_first_rank"] = stats.first_rank
    return out
