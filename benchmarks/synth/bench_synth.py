"""Time the built-in synthetic data generator (reid_data.synth.synthesize).

Usage: python benchmarks/synth/bench_synth.py [--ids 200] [--workers 2] [--styles source target]
           [--modality rgb] [--out DIR] [--json]

Reports wall time, CPU time of this process plus its worker processes, and images per second,
for a fresh generation (the output folder is emptied first) and for a cache hit.
The target is 200 identities in under a minute on 2 cores. The wall time depends on how busy
the machine is, so CPU seconds / 2 gives the figure for 2 otherwise idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from reid_data.synth import synthesize


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ids", type=int, default=200)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--styles", nargs="+", default=["source", "target"])
    ap.add_argument("--modality", default="rgb")
    ap.add_argument("--out", default=None, help="output root (default: a temporary folder, removed)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench_synth_"))
    rows = []
    try:
        for style in args.styles:
            out = base / f"{style}_{args.modality}_{args.ids}"
            shutil.rmtree(out, ignore_errors=True)
            t0, c0 = time.perf_counter(), _cpu()
            synthesize(out, style=style, modality=args.modality, ids=args.ids, workers=args.workers)
            wall, cpu = time.perf_counter() - t0, _cpu() - c0
            meta = json.loads((out / "meta.json").read_text())
            t1 = time.perf_counter()
            synthesize(out, style=style, modality=args.modality, ids=args.ids, workers=args.workers)
            rows.append({"style": style, "modality": args.modality, "ids": args.ids, "workers": args.workers,
                         "images": meta["files"], "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                         "images_per_s": round(meta["files"] / wall, 1),
                         "cpu_ms_per_image": round(1000 * cpu / meta["files"], 2),
                         "cache_hit_s": round(time.perf_counter() - t1, 3),
                         "load_avg_1min": round(os.getloadavg()[0], 2)})
    finally:
        if args.out is None:
            shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(" ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
