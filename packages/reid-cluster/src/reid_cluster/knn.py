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

from reid_plugin import make_plugin_manager
from reid_plugin.registry import Registry

__all__ = ["TorchKnn", "FaissFlatKnn", "FaissIvfKnn", "knn", "knn_backend_registry",
           "create_knn_backend", "list_knn_backends"]

_U_BF16 = 2.0**-8  # unit roundoff of bfloat16 (8 significant bits)
_U_FP16 = 2.0**-11


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
                                    self.chunk_bytes, self.last_stats)
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


def _chunked_search(db: torch.Tensor, q: torch.Tensor, k: int, dtype: torch.dtype, extra: int,
                    chunk_bytes: int, stats: dict[str, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k smallest squared L2 distances of every query row against ``db`` (fp32-exact)."""
    n = db.shape[0]
    db_sq = (db * db).sum(1)
    q_sq = (q * q).sum(1)
    chunk = max(16, min(q.shape[0], chunk_bytes // (4 * n)))
    low = dtype != torch.float32
    kc = min(n, k + extra) if low else k
    out_i = torch.empty(q.shape[0], kc, dtype=torch.long, device=db.device)
    out_d = torch.empty(q.shape[0], kc, device=db.device)
    db_mm = db.to(dtype) if low else db
    for s in range(0, q.shape[0], chunk):
        sim = q[s : s + chunk].to(dtype) @ db_mm.T
        key = torch.addcmul(db_sq[None, :], sim, torch.tensor(-2.0, device=db.device)) if low \
            else sim.mul_(-2.0).add_(db_sq[None, :])
        del sim
        out_d[s : s + chunk], out_i[s : s + chunk] = torch.topk(key, kc, dim=1, largest=False)
        del key
    n_fallback = 0
    if low:
        # exact fp32 re-check of the candidates
        if db.device.type == "cpu":
            dots = torch.from_numpy(_pair_dots(db.contiguous().numpy(), q.contiguous().numpy(),
                                               out_i.numpy()))
        else:
            dots = torch.empty_like(out_d)
            sub = max(1, (64 << 20) // (4 * kc * db.shape[1]))
            for t in range(0, q.shape[0], sub):
                ci = out_i[t : t + sub]
                dots[t : t + sub] = torch.einsum("qd,qkd->qk", q[t : t + sub], db[ci])
        exact = db_sq[out_i] - 2.0 * dots
        ek, order = torch.sort(exact, dim=1)
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
        out_d, order = torch.sort(out_d, dim=1)
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
