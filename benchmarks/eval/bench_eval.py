"""Benchmark reid-eval's evaluation and re-ranking against straightforward references.

Every case runs in a fresh subprocess and reports the operation's wall and CPU seconds, the
process's peak RSS (``peak_rss_GB``, ``ru_maxrss``: also whatever the case does after the
operation), the peak during the operation alone (``op_peak_GB``: the high-water mark is reset
just before it; inputs, runtime and output included) and what the operation added to the
resident set it started from (``op_extra_GB``: beyond the loaded inputs and the ~0.65 GB
torch/numba runtime). Inputs are synthetic re-ID-like data (L2-normalised features clustered
around identity centres, with a camera offset), generated once into a cache directory and loaded
by each case (their size is printed too).

    python benchmarks/eval/bench_eval.py --list
    python benchmarks/eval/bench_eval.py eval-ours-market eval-ref-market
    python benchmarks/eval/bench_eval.py all-light          # everything except the heavy cases

Sizes: Market-1501 test (3,368 x 15,913, 751 ids + distractors, 6 cameras) and MSMT17 test
(11,659 x 82,161, 3,060 ids, 15 cameras).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("BENCH_EVAL_CACHE") or Path(tempfile.gettempdir()) / "bench_eval_cache")
SIZES = {
    "market": dict(nq=3368, ng=15913, ids=751, cams=6),
    "msmt": dict(nq=11659, ng=82161, ids=3060, cams=15),
    "small": dict(nq=1123, ng=5304, ids=250, cams=6),  # 1/3 of Market, for the dense original
}


# --------------------------------------------------------------------------- data


BASE_DIM = 256


def make_data(size: str, dim: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Synthetic features/ids/cameras; ~15% gallery distractors (pid = ids).

    Features are drawn in 256 dimensions and, for ``dim > 256``, mapped to ``dim`` by a fixed
    random projection, so every dimension has the same difficulty (mAP ~0.7, mINP ~0.26).
    """
    s = SIZES[size]
    rng = np.random.default_rng(seed)
    qp = rng.integers(0, s["ids"], s["nq"])
    gp = rng.integers(0, s["ids"], s["ng"])
    gp[rng.random(s["ng"]) < 0.15] = s["ids"]
    qc, gc = rng.integers(0, s["cams"], s["nq"]), rng.integers(0, s["cams"], s["ng"])
    base = min(dim, BASE_DIM)
    centres = rng.standard_normal((s["ids"] + 1, base)).astype(np.float32)
    cam = 0.6 * rng.standard_normal((s["cams"], base)).astype(np.float32)
    proj = rng.standard_normal((base, dim)).astype(np.float32) if dim > base else None

    def feats(p: np.ndarray, c: np.ndarray) -> np.ndarray:
        out = np.empty((len(p), dim), np.float32)
        for a in range(0, len(p), 8192):
            sl = slice(a, a + 8192)
            f = centres[p[sl]] + cam[c[sl]] + 1.4 * rng.standard_normal((len(p[sl]), base)).astype(np.float32)
            if proj is not None:
                f = f @ proj
            out[sl] = f / np.linalg.norm(f, axis=1, keepdims=True)
        return out

    return {"qf": feats(qp, qc), "gf": feats(gp, gc), "qp": qp, "gp": gp, "qc": qc, "gc": gc}


def cached(size: str, dim: int, dense: tuple[str, ...] = ()) -> Path:
    """Directory with the inputs of (size, dim); ``dense`` adds q_g / q_q / g_g matrices."""
    d = CACHE / f"{size}_d{dim}"
    d.mkdir(parents=True, exist_ok=True)
    if not (d / "qp.npy").exists():
        for k, v in make_data(size, dim).items():
            np.save(d / f"{k}.npy", v)
    import torch

    for name in dense:
        if (d / f"{name}.npy").exists():
            continue
        a, b = {"q_g": ("qf", "gf"), "q_q": ("qf", "qf"), "g_g": ("gf", "gf")}[name]
        x, y = torch.from_numpy(np.load(d / f"{a}.npy")), torch.from_numpy(np.load(d / f"{b}.npy"))
        out = np.lib.format.open_memmap(d / f"{name}.npy", mode="w+", dtype=np.float32, shape=(len(x), len(y)))
        for s in range(0, len(x), 2048):  # squared Euclidean on normalised features = 2 - 2 cos
            out[s : s + 2048] = (2 - 2 * x[s : s + 2048] @ y.T).numpy()
        out.flush()
        del out
    return d


def load(d: Path, *names: str) -> list[np.ndarray]:
    return [np.load(d / f"{n}.npy") for n in names]


# --------------------------------------------------------------------------- references


def reference_eval(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50):
    """torchreid's pure-Python ``eval_market1501``: full argsort, then a loop over queries."""
    num_q, num_g = distmat.shape
    indices = np.argsort(distmat, axis=1)
    matches = (g_pids[indices] == q_pids[:, np.newaxis]).astype(np.int32)
    all_cmc, all_AP, all_INP = [], [], []
    num_valid_q = 0.0
    for q_idx in range(num_q):
        order = indices[q_idx]
        remove = (g_pids[order] == q_pids[q_idx]) & (g_camids[order] == q_camids[q_idx])
        keep = np.invert(remove)
        raw_cmc = matches[q_idx][keep]
        if not np.any(raw_cmc):
            continue
        cmc = raw_cmc.cumsum()
        pos_idx = np.where(raw_cmc == 1)
        max_pos_idx = np.max(pos_idx)
        all_INP.append(cmc[max_pos_idx] / (max_pos_idx + 1.0))
        cmc[cmc > 1] = 1
        all_cmc.append(cmc[:max_rank])
        num_valid_q += 1.0
        num_rel = raw_cmc.sum()
        tmp_cmc = raw_cmc.cumsum()
        tmp_cmc = [x / (i + 1.0) for i, x in enumerate(tmp_cmc)]
        tmp_cmc = np.asarray(tmp_cmc) * raw_cmc
        all_AP.append(tmp_cmc.sum() / num_rel)
    all_cmc = np.asarray(all_cmc).astype(np.float32).sum(0) / num_valid_q
    return all_cmc, float(np.mean(all_AP)), float(np.mean(all_INP))


def reference_rerank(q_g_dist, q_q_dist, g_g_dist, k1=20, k2=6, lambda_value=0.3):
    """Zhong et al.'s dense numpy re-ranking, as shipped by torchreid / open-reid."""
    original_dist = np.concatenate(
        [np.concatenate([q_q_dist, q_g_dist], axis=1), np.concatenate([q_g_dist.T, g_g_dist], axis=1)],
        axis=0,
    )
    original_dist = np.power(original_dist, 2).astype(np.float32)
    original_dist = np.transpose(1.0 * original_dist / np.max(original_dist, axis=0))
    V = np.zeros_like(original_dist).astype(np.float32)
    initial_rank = np.argsort(original_dist).astype(np.int32)
    query_num = q_g_dist.shape[0]
    gallery_num = q_g_dist.shape[0] + q_g_dist.shape[1]
    all_num = gallery_num
    for i in range(all_num):
        forward_k_neigh_index = initial_rank[i, : k1 + 1]
        backward_k_neigh_index = initial_rank[forward_k_neigh_index, : k1 + 1]
        fi = np.where(backward_k_neigh_index == i)[0]
        k_reciprocal_index = forward_k_neigh_index[fi]
        k_reciprocal_expansion_index = k_reciprocal_index
        for j in range(len(k_reciprocal_index)):
            candidate = k_reciprocal_index[j]
            cf = initial_rank[candidate, : int(np.around(k1 / 2.0)) + 1]
            cb = initial_rank[cf, : int(np.around(k1 / 2.0)) + 1]
            fi_candidate = np.where(cb == candidate)[0]
            candidate_k_reciprocal_index = cf[fi_candidate]
            if len(np.intersect1d(candidate_k_reciprocal_index, k_reciprocal_index)) > 2.0 / 3 * len(
                candidate_k_reciprocal_index
            ):
                k_reciprocal_expansion_index = np.append(k_reciprocal_expansion_index, candidate_k_reciprocal_index)
        k_reciprocal_expansion_index = np.unique(k_reciprocal_expansion_index)
        weight = np.exp(-original_dist[i, k_reciprocal_expansion_index])
        V[i, k_reciprocal_expansion_index] = 1.0 * weight / np.sum(weight)
    original_dist = original_dist[:query_num,]
    if k2 != 1:
        V_qe = np.zeros_like(V, dtype=np.float32)
        for i in range(all_num):
            V_qe[i, :] = np.mean(V[initial_rank[i, :k2], :], axis=0)
        V = V_qe
        del V_qe
    del initial_rank
    invIndex = [np.where(V[:, i] != 0)[0] for i in range(gallery_num)]
    jaccard_dist = np.zeros_like(original_dist, dtype=np.float32)
    for i in range(query_num):
        temp_min = np.zeros(shape=[1, gallery_num], dtype=np.float32)
        indNonZero = np.where(V[i, :] != 0)[0]
        indImages = [invIndex[ind] for ind in indNonZero]
        for j in range(len(indNonZero)):
            temp_min[0, indImages[j]] = temp_min[0, indImages[j]] + np.minimum(
                V[i, indNonZero[j]], V[indImages[j], indNonZero[j]]
            )
        jaccard_dist[i] = 1 - temp_min / (2.0 - temp_min)
    final_dist = jaccard_dist * (1 - lambda_value) + original_dist * lambda_value
    return final_dist[:query_num, query_num:]


# --------------------------------------------------------------------------- cases


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class _Op:
    """Wall / CPU time of one operation and its own peak RSS: the high-water mark is reset
    (``/proc/self/clear_refs``) just before it, so ``op_peak_GB`` is the process's peak during
    the operation (inputs, runtime and output included) and ``op_extra_GB`` what the operation
    added on top of the resident set it started from (the inputs already loaded)."""

    def __enter__(self) -> _Op:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        self.rss0 = _status_kb("VmRSS")
        self.t, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t
        self.cpu_seconds = time.process_time() - self.c
        hwm = _status_kb("VmHWM")
        self.figures = {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                        "op_peak_GB": hwm / 1e6, "op_extra_GB": (hwm - self.rss0) / 1e6}


def case_eval_ours(size: str, dim: int) -> dict:
    from reid_eval import evaluate_rank

    d = cached(size, dim, ("q_g",))
    distmat, qp, gp, qc, gc = load(d, "q_g", "qp", "gp", "qc", "gc")
    with _Op() as op:
        r = evaluate_rank(distmat, qp, gp, qc, gc)
    return {**op.figures, "mAP": r["mAP"],
            "R1": float(r["cmc"][0]), "mINP": r["mINP"], "input_GB": distmat.nbytes / 1e9}


def case_eval_ref(size: str, dim: int, query_fraction: float = 1.0) -> dict:
    d = cached(size, dim, ("q_g",))
    distmat, qp, gp, qc, gc = load(d, "q_g", "qp", "gp", "qc", "gc")
    nq = int(round(len(qp) * query_fraction))
    distmat, qp, qc = distmat[:nq], qp[:nq], qc[:nq]
    t, c = time.perf_counter(), time.process_time()
    cmc, mAP, mINP = reference_eval(distmat, qp, gp, qc, gc)
    sec, cpu = time.perf_counter() - t, time.process_time() - c
    out = {"seconds": sec, "cpu_seconds": cpu, "mAP": mAP, "R1": float(cmc[0]), "mINP": mINP,
           "input_GB": distmat.nbytes / 1e9}
    if query_fraction < 1:
        out.update(queries=nq, seconds_extrapolated_to_all_queries=sec / query_fraction,
                   cpu_seconds_extrapolated=cpu / query_fraction)
    return out


def case_eval_chunked(size: str, dim: int) -> dict:
    from reid_eval import evaluate_features

    d = cached(size, dim)
    qf, gf, qp, gp, qc, gc = load(d, "qf", "gf", "qp", "gp", "qc", "gc")
    with _Op() as op:
        r = evaluate_features(qf, gf, qp, gp, qc, gc)
    return {**op.figures, "mAP": r["mAP"],
            "R1": float(r["cmc"][0]), "mINP": r["mINP"], "input_GB": (qf.nbytes + gf.nbytes) / 1e9,
            "includes": "distance GEMM"}


def _warm_up() -> float:
    """Load reid-cluster's cached numba kernels once (a per-process cost, reported apart)."""
    from reid_eval import re_ranking

    t = time.perf_counter()
    x = np.random.default_rng(0).random((30, 4)).astype(np.float32)
    sq = ((x[:, None] - x[None]) ** 2).sum(-1)
    re_ranking(sq[:5, 5:], sq[:5, :5], sq[5:, 5:], 6, 3, 0.3)
    return time.perf_counter() - t


def case_rerank_dense(size: str, dim: int, ours: bool) -> dict:
    from reid_eval import evaluate_rank, re_ranking

    warm = _warm_up() if ours else 0.0
    d = cached(size, dim, ("q_g", "q_q", "g_g"))
    q_g, q_q, g_g, qp, gp, qc, gc = load(d, "q_g", "q_q", "g_g", "qp", "gp", "qc", "gc")
    with _Op() as op:
        out = re_ranking(q_g, q_q, g_g) if ours else reference_rerank(q_g, q_q, g_g)
    r = evaluate_rank(out, qp, gp, qc, gc)
    return {**op.figures, "mAP_after": r["mAP"], "R1_after": float(r["cmc"][0]),
            "input_GB": (q_g.nbytes + q_q.nbytes + g_g.nbytes) / 1e9, "output_GB": out.nbytes / 1e9,
            "checksum": float(out.sum(dtype=np.float64)), "warm_up_seconds": warm}


def case_rerank_features(size: str, dim: int) -> dict:
    from reid_eval import evaluate_rank, make_context, rerank_features

    warm = _warm_up()
    d = cached(size, dim)
    qf, gf, qp, gp, qc, gc = load(d, "qf", "gf", "qp", "gp", "qc", "gc")
    with _Op() as op:
        out = rerank_features(make_context(qf, gf))
    r = evaluate_rank(out, qp, gp, qc, gc)
    return {**op.figures, "mAP_after": r["mAP"], "R1_after": float(r["cmc"][0]),
            "input_GB": (qf.nbytes + gf.nbytes) / 1e9, "output_GB": out.nbytes / 1e9,
            "includes": "all distance GEMMs", "checksum": float(out.sum(dtype=np.float64)),
            "warm_up_seconds": warm}


def case_rerank_eval_chunked(size: str, dim: int) -> dict:
    from reid_eval import evaluate_features

    warm = _warm_up()
    d = cached(size, dim)
    qf, gf, qp, gp, qc, gc = load(d, "qf", "gf", "qp", "gp", "qc", "gc")
    with _Op() as op:
        r = evaluate_features(qf, gf, qp, gp, qc, gc, rerank=True)
    return {**op.figures, "mAP_after": r["mAP"],
            "R1_after": float(r["cmc"][0]),
            "input_GB": (qf.nbytes + gf.nbytes) / 1e9, "includes": "GEMMs + re-ranking + evaluation",
            "warm_up_seconds": warm}


CASES = {
    "eval-ours-market": (case_eval_ours, ("market", 256)),
    "eval-ref-market": (case_eval_ref, ("market", 256)),
    "eval-chunked-market": (case_eval_chunked, ("market", 2048)),
    "eval-ours-msmt": (case_eval_ours, ("msmt", 256)),
    "eval-ref-msmt-10pct": (case_eval_ref, ("msmt", 256, 0.1)),
    "eval-chunked-msmt": (case_eval_chunked, ("msmt", 256)),
    "rerank-ours-small": (case_rerank_dense, ("small", 256, True)),
    "rerank-orig-small": (case_rerank_dense, ("small", 256, False)),
    "rerank-ours-market": (case_rerank_dense, ("market", 256, True)),
    "rerank-orig-market": (case_rerank_dense, ("market", 256, False)),
    "rerank-features-market": (case_rerank_features, ("market", 2048)),
    "rerank-eval-chunked-msmt": (case_rerank_eval_chunked, ("msmt", 256)),
}
HEAVY = {"rerank-orig-market", "rerank-eval-chunked-msmt", "eval-ours-msmt", "eval-ref-msmt-10pct",
         "eval-chunked-msmt"}


def run_case(name: str) -> dict:
    fn, args = CASES[name]
    # "seconds" is wall time of the operation; "cpu_seconds" its CPU time over all threads
    # (useful when the cores are shared with other work)
    out = fn(*args)
    out["peak_rss_GB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
    out["case"] = name
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="*", help="case names, 'all' or 'all-light'")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--prepare", action="store_true", help="only generate the cached inputs")
    ns = ap.parse_args()
    if ns.child:
        print(json.dumps(run_case(ns.child)))
        return
    if ns.list:
        for n in CASES:
            print(n, "(heavy)" if n in HEAVY else "")
        return
    names: list[str] = []
    for c in ns.cases:
        if c in ("all", "all-light"):
            names += [n for n in CASES if c == "all" or n not in HEAVY]
        elif c in CASES:
            names.append(c)
        else:
            sys.exit(f"unknown case {c!r}; choices: {', '.join(CASES)} (or all, all-light)")
    for name in names:
        if ns.prepare:
            fn, args = CASES[name]
            cached(args[0], args[1], ("q_g",) if "eval" in name and "chunked" not in name else
                   ("q_g", "q_q", "g_g") if name.startswith("rerank-o") or "-small" in name else ())
            continue
        res = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True)
        if res.returncode != 0:
            print(json.dumps({"case": name, "error": res.stderr.strip().splitlines()[-1:]}))
        else:
            print(res.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
