"""k-nearest-neighbour backends (exact torch, faiss flat/IVF) and the :func:`knn` front end.

Every backend searches by squared Euclidean distance (faiss ``IndexFlatL2`` convention) and
returns ``(dist, idx)`` as numpy arrays of shape (Q, k), ascending, ``float32`` / ``int64``. In a
self-search (``queries is None``) each point is its own first neighbour unless
``exclude_self=True`` (then ``k`` other points are returned).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import torch
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from reid_plugin import make_plugin_manager
from reid_plugin.registry import Registry

__all__ = ["TorchKnn", "FaissFlatKnn", "FaissIvfKnn", "knn", "knn_backend_registry",
           "create_knn_backend", "list_knn_backends", "dense_topk", "StreamTopK"]

_U_BF16 = 2.0**-8  # unit roundoff of bfloat16 (8 significant bits)
_U_FP16 = 2.0**-11
_SCAN = 16  # keys tested per vector step of the candidate selection
_TILE = 64  # columns transposed at a time for the column lists


def _as_tensor(x: Any) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    if t.ndim != 2:
        raise ValueError(f"features must be a 2-D (N, D) array, got shape {tuple(t.shape)}")
    return t.detach().float()


def _as_numpy(x: Any) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"features must be a 2-D (N, D) array, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


class TorchKnn:
    """Exact kNN with chunked matmul + top-k (CPU or GPU); the default backend, no faiss needed.

    On the CPU with fp32/bf16, blocks of products stream through per-point heaps (numba) and a
    self-search computes only the upper triangle (each product feeds both points' lists); ties
    between exactly equal distances are broken by index. Other devices / fp16: ``torch.topk``.

    :param device: ``"cpu"``, ``"cuda"``... (default: the features' device).
    :param search_dtype: ``"fp32"`` (plain exact search), ``"bf16"`` or ``"fp16"``: candidate
        search in low precision (``k + extra_candidates`` per row), then an exact fp32 re-check
        of the candidates (returned distances are always fp32-exact). A row whose k-th exact
        distance is not separated from the candidate boundary by an estimate of the
        low-precision error (output rounding ``u |x||y|`` plus a 4-sigma input-rounding term)
        is recomputed in fp32 against all points; ``last_stats["fallback_rows"]`` counts them.
        This is an estimate, not a worst-case guarantee: on very flat neighbourhoods a true
        neighbour can in principle be missed (tests compare with fp32 and faiss).
        ``"auto"``: bf16 on CPU, fp16 on CUDA.
    :param extra_candidates: candidates fetched beyond ``k`` in the low-precision search.
    :param chunk_bytes: size of one (chunk x N) similarity block (default 32 MiB).
    """

    name = "torch"

    def __init__(self, device: str | None = None, search_dtype: str = "auto",
                 extra_candidates: int = 24, chunk_bytes: int = 32 << 20) -> None:
        choices = ("auto", "fp32", "bf16", "fp16")
        if search_dtype not in choices:
            raise ValueError(f"search_dtype must be one of {list(choices)}, got {search_dtype!r}")
        self.device = device
        self.search_dtype = search_dtype
        self.extra_candidates = int(extra_candidates)
        self.chunk_bytes = int(chunk_bytes)
        self.last_stats: dict[str, float] = {}

    def _dtype(self, dev: torch.device) -> torch.dtype:
        sd = self.search_dtype
        if sd == "auto":
            sd = "fp16" if dev.type == "cuda" else "bf16"
        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[sd]

    def search(self, database: Any, k: int, queries: Any = None,
               exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
        db = _as_tensor(database)
        dev = torch.device(self.device) if self.device else db.device
        db = db.to(dev)
        self_search = queries is None
        q = db if self_search else _as_tensor(queries).to(dev)
        n = db.shape[0]
        kk = k + (1 if (exclude_self and self_search) else 0)
        if kk > n:
            raise ValueError(f"k={k} exceeds the {n} database points")
        dist, idx = _chunked_search(db, q, kk, self._dtype(dev), self.extra_candidates,
                                    self.chunk_bytes, self.last_stats, self_search)
        if exclude_self and self_search:
            dist, idx = _drop_self(dist, idx)
        return dist.cpu().numpy(), idx.cpu().numpy()


def _drop_self(dist: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Remove each row's own index (or its last column when self is absent, e.g. duplicates)."""
    rows = torch.arange(idx.shape[0], device=idx.device)[:, None]
    is_self = idx == rows
    drop = torch.where(is_self.any(1), is_self.float().argmax(1), idx.shape[1] - 1)
    keep = torch.ones_like(is_self)
    keep[torch.arange(idx.shape[0]), drop] = False
    k = idx.shape[1] - 1
    return dist[keep].view(-1, k), idx[keep].view(-1, k)


@numba.njit(parallel=True, fastmath=True, cache=True)
def _pair_dots(db: np.ndarray, q: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """fp32 dot products ``q[r] . db[cand[r, a]]`` without materialising the gathered rows."""
    n, kc = cand.shape
    out = np.empty((n, kc), dtype=np.float32)
    for r in numba.prange(n):
        for a in range(kc):
            j = cand[r, a]
            acc = np.float32(0.0)
            for t in range(db.shape[1]):
                acc += q[r, t] * db[j, t]
            out[r, a] = acc
    return out


@intrinsic
def _f32_from_bits(typingctx, bits):  # type: ignore[no-untyped-def]
    """Reinterpret a uint32 as the float32 with the same bits (bf16 bits << 16 -> float32)."""
    sig = types.float32(types.uint32)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@numba.njit(cache=True, nogil=True)
def _heap_replace(keys, idx, p, kv, j):  # type: ignore[no-untyped-def]
    """Replace the maximum (root) of max-heap ``keys[p]`` by ``(kv, j)`` and sift it down."""
    kc = keys.shape[1]
    pos = 0
    while True:
        c = 2 * pos + 1
        if c >= kc:
            break
        if c + 1 < kc and keys[p, c + 1] > keys[p, c]:
            c += 1
        if keys[p, c] <= kv:
            break
        keys[p, pos] = keys[p, c]
        idx[p, pos] = idx[p, c]
        pos = c
    keys[p, pos] = kv
    idx[p, pos] = j


@numba.njit(fastmath=True, cache=True, nogil=True)
def _keys_of(row, shift, base, a, b, buf):  # type: ignore[no-untyped-def]
    """``buf[t - a] = base[t] - 2 s_t`` for ``t`` in ``[a, b)``, ``s`` decoded from ``row``'s bits."""
    for t in range(a, b):
        buf[t - a] = base[t] - np.float32(2.0) * _f32_from_bits(np.uint32(row[t]) << shift)


@numba.njit(fastmath=True, cache=True, nogil=True)
def _keys_tile(sim, shift, base, t0, t1, tile):  # type: ignore[no-untyped-def]
    """``tile[t - t0, i] = base[i] - 2 s[i, t]``: columns ``[t0, t1)`` of ``sim`` as keys, transposed."""
    for i in range(sim.shape[0]):
        for t in range(t0, t1):
            tile[t - t0, i] = base[i] - np.float32(2.0) * _f32_from_bits(np.uint32(sim[i, t]) << shift)


@numba.njit(fastmath=True, cache=True, nogil=True)
def _row_into(p, keys, idx, buf, w, off):  # type: ignore[no-untyped-def]
    """Offer keys ``buf[:w]`` (of points ``off + t``) to list ``p``."""
    for j0 in range(0, w, _SCAN):
        j1 = min(w, j0 + _SCAN)
        th = keys[p, 0]
        hit = False
        for t in range(j0, j1):
            hit |= buf[t] < th
        if hit:
            for t in range(j0, j1):
                if buf[t] < keys[p, 0]:
                    _heap_replace(keys, idx, p, buf[t], off + t)


@numba.njit(parallel=True, cache=True)
def _select_block(sim, nv, shift, r0, c0, sq_cols, sq_rows, keys, idx, nt):  # type: ignore[no-untyped-def]
    """Stream one block of products into the per-point candidate lists (running top-kc).

    ``sim`` (B, W) holds the bit patterns of ``x[r0 + i] . y[c0 + j]`` (bf16 as uint16 with
    ``shift=16``, fp32 as uint32 with ``shift=0``): row ``r0 + i`` receives the key
    ``sq_cols[c0 + j] - 2 s`` of ``c0 + j`` for every ``j``. In a self-search the last ``nv``
    columns (right of the diagonal block) also feed their own lists: list ``c0 + j`` receives
    ``sq_rows[r0 + i] - 2 s`` of ``r0 + i`` (read in transposed tiles, so each list stays in
    cache while it takes a whole column): only one triangle of the symmetric product matrix is
    ever computed. Each list is a max-heap of the kc smallest keys
    (``keys[p, 0]`` its largest); a key enters only when it is smaller, so every key left out
    is ``>=`` the final ``keys[p, 0]``. The lists fed by ``sim`` and by ``sim_t`` are disjoint
    and each task owns whole lists, so no list is written by two threads (``nt``: parts per
    array, normally the thread count).
    """
    nb, w = sim.shape
    rows_sq = sq_rows[r0 : r0 + nb]
    cols_sq = sq_cols[c0 : c0 + w]
    for task in numba.prange(2 * nt):
        part = task // 2
        if task % 2 == 0:  # rows [a, b) of the block against every column
            a, b = part * nb // nt, (part + 1) * nb // nt
            buf = np.empty(w, dtype=np.float32)
            for i in range(a, b):
                _keys_of(sim[i], shift, cols_sq, 0, w, buf)
                _row_into(r0 + i, keys, idx, buf, w, c0)
        elif nv > 0:  # columns [a, b) of sim's last nv (self-search) against every row
            a, b = w - nv + part * nv // nt, w - nv + (part + 1) * nv // nt
            tile = np.empty((_TILE, nb), dtype=np.float32)
            for t0 in range(a, b, _TILE):
                t1 = min(b, t0 + _TILE)
                _keys_tile(sim, shift, rows_sq, t0, t1, tile)
                for t in range(t0, t1):
                    _row_into(c0 + t, keys, idx, tile[t - t0], nb, r0)


@numba.njit(parallel=True, fastmath=True, cache=True)
def _pair_dots_self(x: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """``x[r] . x[cand[r, a]]`` in fp32; a pair listed in both directions is computed once."""
    n, kc = cand.shape
    out = np.empty((n, kc), dtype=np.float32)
    done = np.zeros((n, kc), dtype=np.bool_)
    for r in numba.prange(n):  # pairs (r, j) with j >= r, or whose mirror (j, r) is not listed
        for a in range(kc):
            j = cand[r, a]
            if j < r:
                mirror = False
                for b in range(kc):
                    if cand[j, b] == r:
                        mirror = True
                        break
                if mirror:
                    continue
            acc = np.float32(0.0)
            for t in range(x.shape[1]):
                acc += x[r, t] * x[j, t]
            out[r, a] = acc
            done[r, a] = True
    for r in numba.prange(n):  # the mirrored ones: read from (j, r)
        for a in range(kc):
            if not done[r, a]:
                j = cand[r, a]
                for b in range(kc):
                    if cand[j, b] == r:
                        out[r, a] = out[j, b]
                        break
    return out


@numba.njit(parallel=True, fastmath=True, cache=True)
def _offer_rows(a, absolute, list_off, cand_off, keys, idx, mx, nt):  # type: ignore[no-untyped-def]
    """Row ``i`` of ``a`` -> list ``list_off + i`` (candidates ``cand_off + t``)."""
    n, w = a.shape
    for part in numba.prange(nt):
        buf = np.empty(w, dtype=np.float32)
        for i in range(part * n // nt, (part + 1) * n // nt):
            p = list_off + i
            m = mx[p]
            for t in range(w):
                v = abs(a[i, t]) if absolute else a[i, t]
                buf[t] = v
                m = max(m, v)
            mx[p] = m
            _row_into(p, keys, idx, buf, w, cand_off)


@numba.njit(parallel=True, fastmath=True, cache=True)
def _offer_cols(a, absolute, list_off, cand_off, keys, idx, mx, nt):  # type: ignore[no-untyped-def]
    """Column ``t`` of ``a`` -> list ``list_off + t`` (candidates ``cand_off + r``), read by rows."""
    n, w = a.shape
    for part in numba.prange(nt):
        c0, c1 = part * w // nt, (part + 1) * w // nt
        th = np.empty(c1 - c0, dtype=np.float32)
        m = np.empty(c1 - c0, dtype=np.float32)
        buf = np.empty(c1 - c0, dtype=np.float32)
        for t in range(c0, c1):
            th[t - c0] = keys[list_off + t, 0]
            m[t - c0] = mx[list_off + t]
        for r in range(n):
            for t in range(c0, c1):
                v = abs(a[r, t]) if absolute else a[r, t]
                buf[t - c0] = v
                m[t - c0] = max(m[t - c0], v)
            for j0 in range(0, c1 - c0, _SCAN):
                j1 = min(c1 - c0, j0 + _SCAN)
                hit = False
                for t in range(j0, j1):
                    hit |= buf[t] < th[t]
                if hit:
                    for t in range(j0, j1):
                        if buf[t] < th[t]:
                            p = list_off + c0 + t
                            _heap_replace(keys, idx, p, buf[t], cand_off + r)
                            th[t] = keys[p, 0]
        for t in range(c0, c1):
            mx[list_off + t] = m[t - c0]


class StreamTopK:
    """The ``k`` smallest values offered to each of ``n`` lists, fed block by block.

    ``offer(block, list_offset, cand_offset)`` gives row ``i`` of a dense float32 block to list
    ``list_offset + i`` (column ``t`` is candidate ``cand_offset + t``); with
    ``by_columns=True`` column ``t`` goes to list ``list_offset + t`` (row ``r`` is candidate
    ``cand_offset + r``), reading the block in memory order (no transposed copy). Each list
    also keeps the maximum of everything offered. One pass, O(n k) memory.

    :param absolute: rank ``|value|`` (and take the maximum of ``|value|``).
    """

    def __init__(self, n: int, k: int, absolute: bool = False) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k, self.absolute = int(k), bool(absolute)
        self.keys = np.full((n, k), np.finfo(np.float32).max, dtype=np.float32)
        self.idx = np.full((n, k), -1, dtype=np.int64)
        self.max = np.full(n, -np.finfo(np.float32).max, dtype=np.float32)

    def offer(self, block: np.ndarray, list_offset: int = 0, cand_offset: int = 0,
              by_columns: bool = False) -> None:
        a = np.ascontiguousarray(block, dtype=np.float32)
        if a.ndim != 2:
            raise ValueError(f"block must be 2-D, got shape {a.shape}")
        n_lists = a.shape[1] if by_columns else a.shape[0]
        if list_offset < 0 or list_offset + n_lists > len(self.keys):
            raise ValueError(f"lists [{list_offset}, {list_offset + n_lists}) outside [0, "
                             f"{len(self.keys)})")
        nt = max(1, min(n_lists, numba.get_num_threads()))
        fn = _offer_cols if by_columns else _offer_rows
        fn(a, self.absolute, int(list_offset), int(cand_offset), self.keys, self.idx, self.max, nt)

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(values, idx, max)``: (n, k) ascending (ties by candidate index), and each list's
        maximum; a list offered fewer than ``k`` values is padded with float32 max and -1."""
        order = np.argsort(self.idx, axis=1)  # ties by candidate: stable sort of sorted lists
        keys = np.take_along_axis(self.keys, order, 1)
        idx = np.take_along_axis(self.idx, order, 1)
        order = np.argsort(keys, axis=1, kind="stable")
        return np.take_along_axis(keys, order, 1), np.take_along_axis(idx, order, 1), self.max


def dense_topk(a: np.ndarray, k: int, absolute: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` smallest entries of every row of a dense block, in one pass (no sort).

    :param absolute: rank ``|a|`` instead of ``a``.
    :returns: ``(values, idx, row_max)``: (B, k) ascending values (ties by column index),
        their columns, and each row's maximum (of ``|a|`` when ``absolute``).
    """
    a = np.asarray(a)
    if a.ndim != 2 or not 1 <= k <= a.shape[1]:
        raise ValueError(f"need a 2-D block and 1 <= k <= its row length, got {a.shape}, k={k}")
    st = StreamTopK(a.shape[0], k, absolute)
    st.offer(a)
    return st.result()


def _sq_rows(t: torch.Tensor, rows: int = 4096) -> torch.Tensor:
    """``(t * t).sum(1)`` by row blocks (the same values, without an N x D temporary)."""
    return torch.cat([(b * b).sum(1) for b in t.split(rows)]) if len(t) else t.new_zeros(0)


def _block_candidates(db: torch.Tensor, q: torch.Tensor, self_search: bool, kc: int,
                      dtype: torch.dtype, chunk_bytes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(low-precision keys, indices) of each query's kc candidates, unsorted, on the CPU.

    Blocks of query rows are multiplied with the database in ``dtype`` and streamed through
    :func:`_select_block`; in a self-search block ``b`` only meets points ``>= its start``
    (upper triangle), the lower triangle reaching the lists through the columns.
    """
    n, nq = db.shape[0], q.shape[0]
    sq_db = _sq_rows(db).numpy()
    sq_q = sq_db if self_search else _sq_rows(q).numpy()
    # a finite "empty" key: the kernel is compiled with fastmath (no infinities)
    keys = np.full((nq, kc), np.finfo(np.float32).max, dtype=np.float32)
    idx = np.full((nq, kc), -1, dtype=np.int64)
    low = dtype != torch.float32
    db_mm = db.to(dtype) if low else db
    q_mm = db_mm if self_search else (q.to(dtype) if low else q)
    bits, shift = (torch.int16, 16) if low else (torch.int32, 0)
    step = max(16, min(nq, chunk_bytes // ((2 if low else 4) * n)))
    for s in range(0, nq, step):
        e = min(nq, s + step)
        c0 = s if self_search else 0
        sim = q_mm[s:e] @ db_mm[c0:].T
        raw = sim.view(bits).numpy()
        raw = raw.view(np.uint16) if low else raw.view(np.uint32)
        # self-search: the columns right of the diagonal block also feed their own lists
        nv = raw.shape[1] - (e - s) if self_search else 0
        _select_block(raw, nv, np.uint32(shift), s, c0, sq_db, sq_q if not self_search
                      else sq_db, keys, idx, numba.get_num_threads())
        del sim, raw
    return torch.from_numpy(keys), torch.from_numpy(idx)


def _chunked_search(db: torch.Tensor, q: torch.Tensor, k: int, dtype: torch.dtype, extra: int,
                    chunk_bytes: int, stats: dict[str, float],
                    self_search: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k smallest squared L2 distances of every query row against ``db`` (fp32-exact)."""
    n = db.shape[0]
    db_sq = _sq_rows(db)
    q_sq = db_sq if self_search else _sq_rows(q)
    chunk = max(16, min(q.shape[0], chunk_bytes // (4 * n)))
    low = dtype != torch.float32
    kc = min(n, k + extra) if low else k
    cpu = db.device.type == "cpu" and dtype in (torch.float32, torch.bfloat16)
    if cpu:
        out_d, out_i = _block_candidates(db, q, self_search, kc, dtype, chunk_bytes)
        # candidates by index: exact ties are then resolved by index (stable sorts below)
        out_i, order = torch.sort(out_i, dim=1)
        out_d = torch.gather(out_d, 1, order)
    else:
        out_i = torch.empty(q.shape[0], kc, dtype=torch.long, device=db.device)
        out_d = torch.empty(q.shape[0], kc, device=db.device)
        db_mm = db.to(dtype) if low else db
        for s in range(0, q.shape[0], chunk):
            sim = q[s : s + chunk].to(dtype) @ db_mm.T
            key = torch.addcmul(db_sq[None, :], sim, torch.tensor(-2.0, device=db.device)) \
                if low else sim.mul_(-2.0).add_(db_sq[None, :])
            del sim
            out_d[s : s + chunk], out_i[s : s + chunk] = torch.topk(key, kc, dim=1, largest=False)
            del key
    n_fallback = 0
    if low:
        # exact fp32 re-check of the candidates
        if db.device.type == "cpu":
            dots = torch.from_numpy(
                _pair_dots_self(db.contiguous().numpy(), out_i.numpy()) if self_search
                else _pair_dots(db.contiguous().numpy(), q.contiguous().numpy(), out_i.numpy()))
        else:
            dots = torch.empty_like(out_d)
            sub = max(1, (64 << 20) // (4 * kc * db.shape[1]))
            for t in range(0, q.shape[0], sub):
                ci = out_i[t : t + sub]
                dots[t : t + sub] = torch.einsum("qd,qkd->qk", q[t : t + sub], db[ci])
        exact = db_sq[out_i] - 2.0 * dots
        ek, order = torch.sort(exact, dim=1, stable=True)
        ei = torch.gather(out_i, 1, order)
        bound, last = out_d.max(1)  # every non-candidate has a low-precision key >= bound
        s_last = torch.gather(dots, 1, last[:, None]).view(-1).abs()
        u = _U_BF16 if dtype == torch.bfloat16 else _U_FP16
        max_norm = float(db_sq.max().sqrt())
        # error estimate of the low-precision key (= ||y||^2 - 2 x.y) near the boundary: the
        # product is rounded to the low dtype (<= u |x.y|, x.y ~ the boundary candidate's), and
        # input rounding adds ~u |x||y| / sqrt(D) (4 sigma margin); doubled by the key's factor 2
        eps = 2.0 * u * (s_last * 1.05 + 4.0 / db.shape[1] ** 0.5 * q_sq.sqrt() * max_norm) + 1e-6
        bad = ~(ek[:, k - 1] < bound - eps) if kc < n else torch.zeros_like(eps, dtype=torch.bool)
        ek, ei = ek[:, :k].contiguous(), ei[:, :k].contiguous()
        rows = bad.nonzero().view(-1)
        n_fallback = int(rows.numel())
        sub = max(16, chunk_bytes // (4 * n))
        for t in range(0, n_fallback, sub):
            r = rows[t : t + sub]
            key = torch.addmm(db_sq[None, :], q[r], db.T, alpha=-2.0)
            ek[r], ei[r] = torch.topk(key, k, dim=1, largest=False, sorted=True)
        out_d, out_i = ek, ei
    else:
        out_d, order = torch.sort(out_d, dim=1, stable=True)
        out_i = torch.gather(out_i, 1, order)
    stats["fallback_rows"] = float(n_fallback)
    stats["rows"] = float(q.shape[0])
    return (out_d + q_sq[:, None]).clamp_min_(0), out_i


def _missing_faiss() -> ImportError:
    return ImportError(
        "this kNN backend needs faiss, which is not installed; install the optional extra "
        "`reid-cluster[faiss]` (pip install 'reid-cluster[faiss]', or `reid-cluster[faiss-gpu]`)"
    )


def _import_faiss() -> Any:
    try:
        import faiss
    except ImportError as err:
        raise _missing_faiss() from err
    return faiss


class FaissFlatKnn:
    """Exact search with faiss ``IndexFlatL2`` (GPU when ``device`` is CUDA and faiss-gpu is
    installed). Needs the ``reid-cluster[faiss]`` extra; building it without faiss raises
    ``ImportError`` naming the extra."""

    name = "faiss-flat"

    def __init__(self, device: str = "cpu") -> None:
        self.faiss = _import_faiss()
        self.device = device

    def _index(self, d: int) -> Any:
        faiss = self.faiss
        index = faiss.IndexFlatL2(d)
        return self._maybe_gpu(index)

    def _maybe_gpu(self, index: Any) -> Any:
        faiss = self.faiss
        if str(self.device).startswith("cuda"):
            if not hasattr(faiss, "StandardGpuResources"):
                raise RuntimeError(
                    f"device={self.device!r} needs faiss-gpu (`reid-cluster[faiss-gpu]`); "
                    "the installed faiss is CPU-only")
            dev = torch.device(self.device).index or 0
            index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), dev, index)
        return index

    def search(self, database: Any, k: int, queries: Any = None,
               exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
        db = _as_numpy(database)
        self_search = queries is None
        q = db if self_search else _as_numpy(queries)
        kk = k + (1 if (exclude_self and self_search) else 0)
        if kk > db.shape[0]:
            raise ValueError(f"k={k} exceeds the {db.shape[0]} database points")
        index = self._index(db.shape[1])
        if not index.is_trained:
            index.train(db)
        index.add(db)
        dist, idx = index.search(q, kk)
        dist, idx = np.asarray(dist, np.float32), np.asarray(idx, np.int64)
        if exclude_self and self_search:
            td, ti = _drop_self(torch.from_numpy(dist), torch.from_numpy(idx))
            dist, idx = td.numpy(), ti.numpy()
        return dist, idx


class FaissIvfKnn(FaissFlatKnn):
    """Approximate search with faiss ``IndexIVFFlat`` (L2) for very large N.

    :param nlist: inverted lists (default ``round(4 * sqrt(N))`` at search time).
    :param nprobe: lists visited per query.
    """

    name = "faiss-ivf"

    def __init__(self, device: str = "cpu", nlist: int | None = None, nprobe: int = 16) -> None:
        super().__init__(device)
        self.nlist = nlist
        self.nprobe = int(nprobe)
        self._n = 0

    def search(self, database: Any, k: int, queries: Any = None,
               exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
        self._n = len(database)
        return super().search(database, k, queries, exclude_self)

    def _index(self, d: int) -> Any:
        faiss = self.faiss
        nlist = self.nlist or max(1, min(self._n // 39, int(round(4 * np.sqrt(self._n)))))
        quantizer = faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_L2)
        index.nprobe = min(self.nprobe, nlist)
        self._quantizer = quantizer  # keep the quantizer alive while the index lives
        return self._maybe_gpu(index)


def knn_backend_registry(pm: Any = None) -> Registry[Any]:
    """Registry of kNN backends from ``reid_register_knn_backends`` (core-only manager by default)."""
    pm = pm if pm is not None else make_plugin_manager()
    return Registry.from_hook(pm, "reid_register_knn_backends", "kNN backend")


def list_knn_backends(pm: Any = None) -> list[str]:
    return knn_backend_registry(pm).names()


def create_knn_backend(name: str, pm: Any = None, **opts: Any) -> Any:
    """Build backend ``name`` with ``opts`` (unknown names raise an error listing the choices)."""
    return knn_backend_registry(pm).create(name, **opts)


def knn(features: Any, k: int, backend: str | Any = "torch", *, queries: Any = None,
        exclude_self: bool = False, pm: Any = None, **opts: Any) -> tuple[np.ndarray, np.ndarray]:
    """k nearest neighbours by squared L2: ``(dist, idx)``, each (Q, k), ascending.

    :param features: (N, D) database (numpy or torch); also the queries when ``queries`` is None.
    :param backend: a registered name (``torch``, ``faiss-flat``, ``faiss-ivf``) or an object
        with a ``search`` method; ``opts`` go to the backend's constructor.
    :param exclude_self: in a self-search, drop each point from its own list.
    """
    if isinstance(backend, str):
        backend = create_knn_backend(backend, pm=pm, **opts)
    elif opts:
        raise TypeError(f"options {sorted(opts)} only apply when backend is given by name")
    return backend.search(features, k, queries=queries, exclude_self=exclude_self)
