"""Benchmark of reid_cluster.jaccard_distance: time, peak memory and growth exponent vs N.

Each N runs in a fresh subprocess on synthetic re-ID-like features (identity centres + noise,
L2-normalised; ``reid_cluster.clustered_features``). Peak memory "beyond features" is
``ru_maxrss`` at the end minus the resident set size just before the call (features already
built, numba kernels already loaded from their cache by a warm-up on 500 points). The bf16 and
fp32 all-pairs GEMM of the same N (fp32 only up to N = 20,000) (timed in the same process, the floor of an exact kNN) is
printed so that figures from a loaded machine can be compared with the oracle README's.

    python benchmarks/cluster/bench_jaccard.py --sizes 2000 4000 8000 12936
    python benchmarks/cluster/bench_jaccard.py --sizes 32621 --no-gemm
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys

CHILD = r"""
import json, os, resource, sys, time
import numpy as np, torch
n, dim, variant, backend, gemm = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == "1"
from reid_cluster import clustered_features, jaccard_distance
x, _ = clustered_features(n, dim, seed=0)
jaccard_distance(clustered_features(500, dim, seed=1)[0], 30 if variant == "spcl" else 20, 6,
                 variant=variant, knn_backend=backend)   # warm-up: load the numba cache
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
out = {"n": n}
if gemm:
    t = torch.from_numpy(x)
    kinds = (("gemm_bf16_s", torch.bfloat16), ("gemm_fp32_s", torch.float32))
    for name, dt in kinds[: 1 if n > 20000 else 2]:  # fp32 GEMM only for the smaller sizes
        a = t.to(dt); step = max(1, (64 << 20) // (4 * n)); t0 = time.perf_counter()
        for s in range(0, n, step):
            a[s:s + step] @ a.T
        out[name] = time.perf_counter() - t0
        del a
base = rss()
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
j = jaccard_distance(x, 30 if variant == "spcl" else 20, 6, variant=variant, knn_backend=backend)
out["time_s"] = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
out["cpu_s"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
out["peak_beyond_features_gb"] = (r1.ru_maxrss * 1024 - base) / 1e9
out["features_gb"] = x.nbytes / 1e9
out["nnz_per_row"] = j.nnz / n
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 4000, 8000, 12936])
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--variant", default="spcl", choices=["spcl", "mmt"])
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--no-gemm", action="store_true", help="skip the GEMM reference timing")
    args = ap.parse_args()
    rows = []
    print(f"{'N':>8} {'time_s':>8} {'cpu_s':>8} {'peak_GB':>8} {'feat_GB':>8} {'nnz/row':>8}"
          f" {'gemm_bf16':>9} {'gemm_fp32':>9}", flush=True)
    for n in args.sizes:
        res = subprocess.run([sys.executable, "-c", CHILD, str(n), str(args.dim), args.variant,
                              args.backend, "0" if args.no_gemm else "1"],
                             capture_output=True, text=True, env=dict(os.environ))
        if res.returncode != 0:
            print(res.stderr, file=sys.stderr)
            raise SystemExit(f"N={n} failed")
        r = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"{n:>8} {r['time_s']:>8.2f} {r['cpu_s']:>8.2f} {r['peak_beyond_features_gb']:>8.3f}"
              f" {r['features_gb']:>8.3f} {r['nnz_per_row']:>8.1f}"
              f" {r.get('gemm_bf16_s', float('nan')):>9.2f} {r.get('gemm_fp32_s', float('nan')):>9.2f}",
              flush=True)
    if len(rows) > 1:
        for a, b in itertools.pairwise(rows):
            e = math.log(b["time_s"] / a["time_s"]) / math.log(b["n"] / a["n"])
            print(f"growth exponent {a['n']} -> {b['n']}: time ~ N^{e:.2f}")
        ln = [math.log(r["n"]) for r in rows]
        lt = [math.log(r["time_s"]) for r in rows]
        mx, my = sum(ln) / len(ln), sum(lt) / len(lt)
        slope = sum((p - mx) * (q - my) for p, q in zip(ln, lt)) / sum((p - mx) ** 2 for p in ln)
        print(f"growth exponent (least squares over all N): {slope:.2f}")


if __name__ == "__main__":
    main()
