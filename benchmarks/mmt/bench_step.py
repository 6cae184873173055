"""Images/s of one MMT training iteration against a single-model (cluster-baseline) iteration.

    python benchmarks/mmt/bench_step.py [--arch resnet50] [--size 256 128] [--batch 32] [--steps 5]

Both steps use the real reid-models networks, losses and mean teachers exactly as
``reid_mmt.methods`` composes them: the single model runs 1 forward + 1 backward; MMT runs
2 student forwards + 2 backwards, 2 teacher forwards (no grad, train mode so their BN statistics
follow) and 2 EMA updates. The script prints the time of each part, so one sees where it goes.
"""

from __future__ import annotations

import argparse
import time

import torch

from reid_models import MeanTeacher, create_loss, create_model


def _timed(fn, sync: bool) -> float:
    if sync:
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if sync:
        torch.cuda.synchronize()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--size", type=int, nargs=2, default=(256, 128))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--classes", type=int, default=500)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    dev = torch.device(args.device)
    sync = dev.type == "cuda"
    torch.manual_seed(0)
    h, w = args.size
    x1 = torch.randn(args.batch, 3, h, w, device=dev)
    x2 = torch.randn(args.batch, 3, h, w, device=dev)
    y = torch.arange(args.batch, device=dev) // 4 % args.classes
    ce = create_loss("cross_entropy", epsilon=0.1)
    tri = create_loss("soft_triplet", margin=0.0)
    sce = create_loss("soft_cross_entropy")
    stri = create_loss("soft_triplet_teacher")

    net = create_model(args.arch, num_classes=args.classes).to(dev).train()
    opt = torch.optim.Adam(net.parameters(), lr=3.5e-4, weight_decay=5e-4)

    def single() -> dict[str, float]:
        t = {}
        out: dict = {}
        t["forward"] = _timed(lambda: out.update(net(x1)), sync)
        loss = ce(out["logits"], y) + tri(out["pooled"], y)
        t["backward+step"] = _timed(lambda: (opt.zero_grad(), loss.backward(), opt.step()), sync)
        return t

    n1 = create_model(args.arch, num_classes=args.classes).to(dev).train()
    n2 = create_model(args.arch, num_classes=args.classes).to(dev).train()
    e1, e2 = MeanTeacher(n1).to(dev).train(), MeanTeacher(n2).to(dev).train()
    opt2 = torch.optim.Adam([*n1.parameters(), *n2.parameters()], lr=3.5e-4, weight_decay=5e-4)
    step = [0]

    def mmt() -> dict[str, float]:
        t = {}
        o: dict = {}
        t["student forwards"] = _timed(lambda: o.update(a=n1(x1), b=n2(x2)), sync)

        def teachers() -> None:
            with torch.no_grad():
                o.update(c=e1(x1), d=e2(x2))

        t["teacher forwards"] = _timed(teachers, sync)
        a, b, c, d = o["a"], o["b"], o["c"], o["d"]
        loss = (0.5 * (ce(a["logits"], y) + ce(b["logits"], y))
                + 0.2 * (tri(a["pooled"], y) + tri(b["pooled"], y))
                + 0.5 * (sce(a["logits"], d["logits"]) + sce(b["logits"], c["logits"]))
                + 0.8 * (stri(a["pooled"], d["pooled"], y) + stri(b["pooled"], c["pooled"], y)))
        t["backward+step"] = _timed(lambda: (opt2.zero_grad(), loss.backward(), opt2.step()), sync)
        t["ema updates"] = _timed(lambda: (e1.update(n1, step[0]), e2.update(n2, step[0])), sync)
        step[0] += 1
        return t

    results = {}
    for name, fn in (("single", single), ("mmt", mmt)):
        fn()  # warm-up
        parts: dict[str, float] = {}
        t0 = time.perf_counter()
        for _ in range(args.steps):
            for k, v in fn().items():
                parts[k] = parts.get(k, 0.0) + v / args.steps
        per_step = (time.perf_counter() - t0) / args.steps
        results[name] = per_step
        print(f"{name:>6}: {per_step:7.3f} s/step  {args.batch / per_step:7.1f} img/s   "
              + "  ".join(f"{k} {v:.3f}s" for k, v in parts.items()))
    print(f"ratio mmt/single: {results['mmt'] / results['single']:.2f}x "
          f"({args.arch}, {h}x{w}, batch {args.batch}, {dev}, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
