"""Calibrate the synthetic source/target data and the training budget of ``reid demo``.

Plain PyTorch loops over the core packages (no runner). Parts, each timed (wall and CPU):

* ``gen``     synthesize source and target data (cached by ``reid_data.synth``);
* ``src``     (a) supervised on the labelled source train split -> source test and target test
              (the latter is "direct transfer"); optional target-BN adaptation as in MMT stage I
              (a target batch is forwarded in train mode every iteration, no loss);
* ``tgt``     (b) supervised on the target train split (upper bound) -> target test;
* ``cluster`` (c) single-model clustering baseline on the target starting from (a): per epoch
              extract features, cluster (k-means with K, or DBSCAN on the Jaccard distance),
              re-initialise the classifier from the centroids, a fresh Adam, ``iters`` steps of
              CE-LS + soft triplet on the pseudo labels, evaluate.

Example (the recommended demo settings)::

    python benchmarks/demo_calibration/calibrate.py --parts gen,src,tgt,cluster --json out.json

``--save-src PATH`` / ``--load-src PATH`` keep the source model between cluster experiments.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import DataLoader

from reid_data import (
    IdentityBatchSampler,
    ImageDataset,
    RandomBatchSampler,
    build_test_transform,
    build_train_transform,
    create_dataset,
    read_image,
)
from reid_data.synth import synthesize
from reid_models import create_loss, create_model

TIMES: dict[str, dict[str, float]] = {}


@contextmanager
def timed(name: str) -> Iterator[None]:
    w, c = time.perf_counter(), time.process_time()
    yield
    TIMES[name] = {"wall_s": round(time.perf_counter() - w, 1), "cpu_s": round(time.process_time() - c, 1)}
    print(f"[time] {name}: wall {TIMES[name]['wall_s']} s, cpu {TIMES[name]['cpu_s']} s", flush=True)


# --------------------------------------------------------------------------- data


class CachedImages(ImageDataset):
    """ImageDataset that decodes every file once (the demo data is small)."""

    _cache: ClassVar[dict[str, Any]] = {}

    def _load(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        path = str(sample[0])
        img = self._cache.get(path)
        if img is None:
            img = self._cache[path] = read_image(path, self.backend)
        out = self.transform(img) if self.transform is not None else img
        item = {"pid": self.pids[index] if self.pids is not None else int(sample[1]),
                "camid": int(sample[2]), "index": index}
        item["images" if isinstance(out, list) else "image"] = out
        return item


def identity_loader(samples: Sequence[Any], transform: Any, batch: int, inst: int, seed: int,
                    pids: Sequence[int] | None = None) -> Iterator[dict[str, Any]]:
    """An endless P x K stream over ``samples`` (labels ``pids`` if given)."""
    ds = CachedImages(samples, transform, pids=pids)
    tagged = [(s[0], p, s[2]) for s, p in zip(samples, pids)] if pids is not None else samples
    sampler = IdentityBatchSampler(tagged, batch, inst, seed=seed, skip_negative_pids=True)
    epoch = 0
    while True:
        sampler.set_epoch(epoch)
        yield from DataLoader(ds, batch_sampler=sampler, num_workers=0)
        epoch += 1


def random_loader(samples: Sequence[Any], transform: Any, batch: int, seed: int) -> Iterator[dict[str, Any]]:
    ds = CachedImages(samples, transform)
    sampler = RandomBatchSampler(len(samples), batch, seed=seed)
    epoch = 0
    while True:
        sampler.set_epoch(epoch)
        yield from DataLoader(ds, batch_sampler=sampler, num_workers=0)
        epoch += 1


def relabel(samples: Sequence[Any]) -> tuple[list[Any], int]:
    ids = sorted({int(s[1]) for s in samples})
    m = {p: i for i, p in enumerate(ids)}
    return [(s[0], m[int(s[1])], s[2]) for s in samples], len(ids)


# --------------------------------------------------------------------------- eval


@torch.no_grad()
def extract(model: torch.nn.Module, samples: Sequence[Any], tf: Any, batch: int = 256) -> torch.Tensor:
    model.eval()
    ds = CachedImages(samples, tf)
    feats = [model(b["image"]) for b in DataLoader(ds, batch_size=batch, shuffle=False, num_workers=0)]
    model.train()
    return torch.cat(feats)


def evaluate(model: torch.nn.Module, data: Any, tf: Any) -> dict[str, float]:
    from reid_eval import evaluate_rank

    q = extract(model, data.query, tf)
    g = extract(model, data.gallery, tf)
    dist = (2 - 2 * q @ g.t()).numpy()  # squared Euclidean of L2-normalised features
    r = evaluate_rank(dist, [s.pid for s in data.query], [s.pid for s in data.gallery],
                      [s.camid for s in data.query], [s.camid for s in data.gallery])
    return {"mAP": round(100 * float(r["mAP"]), 1), "rank1": round(100 * float(r["cmc"][0]), 1),
            "rank5": round(100 * float(r["cmc"][4]), 1)}


# --------------------------------------------------------------------------- training


def make_model(args: argparse.Namespace, num_classes: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_model(args.arch, num_classes=num_classes, pretrained=None, last_stride=args.last_stride)


def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (0.1 + 0.9 * step / warmup)
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * t))  # cosine to 0


def supervised(args: argparse.Namespace, train: Sequence[Any], iters: int, seed: int, tag: str,
               bn_samples: Sequence[Any] | None = None) -> torch.nn.Module:
    """CE-LS + soft triplet (margin 0) on labelled ``train``; Adam with warm-up and cosine."""
    train, n_cls = relabel(train)
    model = make_model(args, n_cls, seed)
    model.train()
    ce, tri = create_loss("cross_entropy"), create_loss("soft_triplet", margin=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=5e-4)
    tf = build_train_transform(args.height, args.width, random_erasing=args.erasing_pretrain, pad=args.pad)
    it = identity_loader(train, tf, args.batch, args.inst, seed)
    bn_it = random_loader(bn_samples, tf, args.batch, seed) if bn_samples is not None else None
    t0 = time.perf_counter()
    for step in range(iters):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, iters, args.lr, args.warmup)
        b = next(it)
        out = model(b["image"])
        loss_ce = ce(out["logits"], b["pid"])
        loss_tri = tri(out["pooled"], b["pid"])
        loss = loss_ce + loss_tri
        opt.zero_grad()
        loss.backward()
        opt.step()
        if bn_it is not None:  # MMT stage I: target forward only adapts the BN running stats
            with torch.no_grad():
                model(next(bn_it)["image"])
        if step % args.log_every == 0 or step == iters - 1:
            print(f"  [{tag}] it {step + 1}/{iters} ce {loss_ce.item():.3f} tri {loss_tri.item():.3f} "
                  f"lr {opt.param_groups[0]['lr']:.2e} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return model


def cluster_baseline(args: argparse.Namespace, model: torch.nn.Module, tgt: Any, test_tf: Any) -> list[dict[str, Any]]:
    """Single-model clustering baseline (MMT §1.5) from ``model``; returns per-epoch results."""
    from reid_cluster import DBSCANClusterer, KMeansClusterer

    train = list(tgt.train)
    gt = np.array([int(s[1]) for s in train])
    k = args.k or len(set(gt.tolist()))
    if args.clusterer == "kmeans":
        clusterer: Any = KMeansClusterer(n_clusters=k, seed=args.seed, backend=args.kmeans_backend)
    else:
        clusterer = DBSCANClusterer(eps=args.eps if args.eps is not None else "auto", min_samples=args.min_samples,
                                    rho=args.rho, k1=args.k1, k2=6, variant="mmt")
    ce, tri = create_loss("cross_entropy"), create_loss("soft_triplet", margin=0.0)
    tf = build_train_transform(args.height, args.width, random_erasing=args.erasing_target, pad=args.pad)
    history: list[dict[str, Any]] = []
    prev = None
    step = 0
    for epoch in range(args.cluster_epochs):
        t0 = time.perf_counter()
        feats = extract(model, train, test_tf)
        pl = clusterer.cluster(feats, previous=prev, ground_truth=gt)
        prev = pl
        t_cl = time.perf_counter() - t0
        model.reset_classifier(pl.num_clusters)
        model.init_classifier(torch.from_numpy(pl.normalized_centroids()).float())
        opt = torch.optim.Adam(model.parameters(), lr=args.cluster_lr, weight_decay=5e-4)
        it = identity_loader(train, tf, args.batch, args.inst, args.seed + epoch, pids=pl.labels.tolist())
        for _i in range(args.cluster_iters):
            b = next(it)
            out = model(b["image"])
            loss_ce = ce(out["logits"], b["pid"])
            loss_tri = tri(out["pooled"], b["pid"])
            opt.zero_grad()
            (loss_ce + loss_tri).backward()
            opt.step()
            step += 1
        res = evaluate(model, tgt, test_tf)
        tel = {key: (round(float(v), 3) if isinstance(v, (float, np.floating)) else v)
               for key, v in pl.telemetry.items() if np.isscalar(v)}
        rec = {"epoch": epoch, **res, "clusters": pl.num_clusters, "cluster_s": round(t_cl, 1),
               "epoch_s": round(time.perf_counter() - t0, 1), "loss_ce": round(loss_ce.item(), 3),
               "loss_tri": round(loss_tri.item(), 3), "telemetry": tel}
        print(f"  [cluster] epoch {epoch}: {rec}", flush=True)
        history.append(rec)
    return history


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="gen,src,tgt,cluster")
    p.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "reid_demo_calibration"))
    p.add_argument("--ids", type=int, default=200, help="identities per domain (half train, half test)")
    p.add_argument("--cameras", type=int, default=6)
    p.add_argument("--ipc", type=int, default=4, help="images per identity per camera")
    p.add_argument("--gen-size", type=int, nargs=2, default=(64, 32), help="rendered image size H W")
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gap", type=float, default=1.0, help="synthesize(style='target', gap=...)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--arch", default="resnet_mini")
    p.add_argument("--last-stride", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--inst", type=int, default=4)
    p.add_argument("--pad", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3, help="supervised Adam lr (warm-up + cosine)")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--erasing-pretrain", type=float, default=0.0)
    p.add_argument("--erasing-target", type=float, default=0.5)
    p.add_argument("--src-iters", type=int, default=200)
    p.add_argument("--tgt-iters", type=int, default=200)
    p.add_argument("--bn-adapt", action="store_true", help="forward a target batch per source step (MMT stage I)")
    p.add_argument("--clusterer", choices=("kmeans", "dbscan"), default="kmeans")
    p.add_argument("--kmeans-backend", default="torch")
    p.add_argument("--k", type=int, default=0, help="k-means K (0 = number of target train ids)")
    p.add_argument("--eps", type=float, default=None)
    p.add_argument("--rho", type=float, default=1.6e-3)
    p.add_argument("--k1", type=int, default=20)
    p.add_argument("--min-samples", type=int, default=4)
    p.add_argument("--cluster-epochs", type=int, default=4)
    p.add_argument("--cluster-iters", type=int, default=50)
    p.add_argument("--cluster-lr", type=float, default=3.5e-4)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--save-src", default=None)
    p.add_argument("--load-src", default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    parts = set(args.parts.split(","))
    root = Path(args.data)
    gen = {"ids": args.ids, "seed": args.seed, "cameras": args.cameras, "images_per_camera": args.ipc,
           "image_size": tuple(args.gen_size)}
    tag = f"i{args.ids}_c{args.cameras}_p{args.ipc}_{args.gen_size[0]}x{args.gen_size[1]}_s{args.seed}"
    tgt_tag = tag if args.gap == 1.0 else f"{tag}_g{args.gap:g}"
    with timed("gen"):
        src_root = synthesize(root / f"src_{tag}", style="source", **gen)
        tgt_root = synthesize(root / f"tgt_{tgt_tag}", style="target", gap=args.gap, **gen)
    src = create_dataset("market1501", src_root)
    tgt = create_dataset("market1501", tgt_root)
    print(f"source {src.stats()}\ntarget {tgt.stats()}", flush=True)
    test_tf = build_test_transform(args.height, args.width)
    rows: dict[str, Any] = {}
    model_a = None
    if "src" in parts or "cluster" in parts:
        if args.load_src:
            ck = torch.load(args.load_src, weights_only=False)
            model_a = make_model(args, ck["num_classes"], args.seed + 1)
            model_a.load_state_dict(ck["state"])
        else:
            with timed("train_source"):
                model_a = supervised(args, src.train, args.src_iters, args.seed + 1, "source",
                                     bn_samples=tgt.train if args.bn_adapt else None)
            if args.save_src:
                torch.save({"state": model_a.state_dict(), "num_classes": model_a.num_classes}, args.save_src)
        with timed("eval_source_model"):
            rows["source-on-source"] = evaluate(model_a, src, test_tf)
            rows["direct-transfer"] = evaluate(model_a, tgt, test_tf)
        print(rows, flush=True)
    if "tgt" in parts:
        with timed("train_target"):
            model_b = supervised(args, tgt.train, args.tgt_iters, args.seed + 3, "target")
        with timed("eval_target_model"):
            rows["supervised-target"] = evaluate(model_b, tgt, test_tf)
        print(rows, flush=True)
    history: list[dict[str, Any]] = []
    if "cluster" in parts and model_a is not None:
        with timed("cluster_baseline"):
            history = cluster_baseline(args, model_a, tgt, test_tf)
        rows["cluster-baseline"] = {k: history[-1][k] for k in ("mAP", "rank1", "rank5")}
    result = {"args": vars(args), "rows": rows, "times": TIMES, "cluster_history": history,
              "counts": {"source": src.stats(), "target": tgt.stats()}}
    print(json.dumps({"rows": rows, "times": TIMES}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
