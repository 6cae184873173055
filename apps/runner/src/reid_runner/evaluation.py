"""Sharded feature extraction and evaluation of networks on a dataset's query/gallery splits.

Extraction runs on every rank (each rank a contiguous shard, then gathered in order). Metrics are
computed on rank 0 by reid-eval (protocols, distance hooks, re-ranking) and broadcast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from reid_runner import _dist

if TYPE_CHECKING:
    from reid_runner.context import StageContext


@torch.no_grad()
def extract(
    ctx: StageContext,
    nets: nn.Module | Sequence[nn.Module],
    samples: Sequence[Any],
    *,
    flip: bool = False,
    normalize: bool = True,
    batch_size: int | None = None,
) -> torch.Tensor:
    """Eval-mode features of ``samples`` on every rank (an ensemble concatenates its nets').

    Each rank extracts a contiguous shard; the shards are gathered in order, so the result is
    the same on every rank and for every world size. ``flip`` averages with the horizontally
    flipped image; ``normalize`` L2-normalises the final feature.
    """
    from reid_data import ImageDataset, build_test_transform

    net_list = [nets] if isinstance(nets, nn.Module) else list(nets)
    d = ctx.config.data
    n, w, r = len(samples), ctx.world.size, ctx.world.rank
    lo, hi = (n * r) // w, (n * (r + 1)) // w
    ds = ImageDataset(list(samples[lo:hi]), build_test_transform(d.height, d.width))
    loader = DataLoader(ds, batch_size=batch_size or d.test_batch_size, shuffle=False,
                        num_workers=d.workers, pin_memory=ctx.device.type == "cuda",
                        generator=torch.Generator())  # keep the global generator untouched
    modes = [m.training for m in net_list]
    for m in net_list:
        m.eval()
    feats = []
    try:
        for batch in loader:
            x = batch["image"].to(ctx.device, non_blocking=True)
            per_net = []
            for m in net_list:
                with ctx.autocast():
                    f = m(x).float()
                    if flip:
                        f = (f + m(torch.flip(x, dims=[3])).float()) / 2
                if len(net_list) > 1:  # ensemble: concatenate L2-normalised features (§5.2)
                    f = torch.nn.functional.normalize(f, dim=1)
                per_net.append(f)
            feats.append(torch.cat(per_net, 1))
    finally:
        for m, mode in zip(net_list, modes):
            m.train(mode)
    dim = feats[0].shape[1] if feats else sum(_feature_dim(m, ctx) for m in net_list)
    local = torch.cat(feats) if feats else torch.zeros(0, dim, device=ctx.device)
    out = _dist.gather_variable(local).cpu()
    if normalize:
        out = torch.nn.functional.normalize(out, dim=1)
    return out


def _feature_dim(net: nn.Module, ctx: StageContext) -> int:
    d = ctx.config.data
    net.eval()
    with torch.no_grad():
        return int(net(torch.zeros(1, 3, d.height, d.width, device=ctx.device)).shape[1])


def eval_splits(dataset: Any, split: str) -> tuple[list[Any], list[Any]]:
    """Query and gallery samples of ``split``: ``test`` or ``val`` (a labelled validation split).

    A dataset has a validation split when ``extra_splits`` holds ``<prefix>validation_query`` and
    ``<prefix>validation_gallery`` (VisDA-2020: ``target_validation_*``).
    """
    if split == "test":
        return list(dataset.query), list(dataset.gallery)
    pair = validation_pair(dataset)
    if pair is None:
        raise ValueError(
            f"dataset {dataset.name!r} has no labelled validation split (extra splits: "
            f"{', '.join(sorted(dataset.extra_splits)) or 'none'}); use select=last"
        )
    return list(dataset.extra_splits[pair[0]]), list(dataset.extra_splits[pair[1]])


def validation_pair(dataset: Any) -> tuple[str, str] | None:
    for key in sorted(getattr(dataset, "extra_splits", {})):
        if key.endswith("validation_query"):
            gal = key[: -len("query")] + "gallery"
            if gal in dataset.extra_splits:
                return key, gal
    return None


def compute_metrics(
    ctx: StageContext,
    qf: torch.Tensor,
    gf: torch.Tensor,
    query: Sequence[Any],
    gallery: Sequence[Any],
    *,
    protocol: str = "market",
    rerank: bool = False,
    rerank_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Rank-0 metrics (mAP, Rank-1/5/10, mINP) through reid-eval, broadcast to every rank."""
    out: dict[str, Any] | None = None
    if ctx.world.is_main:
        out = _metrics_rank0(ctx, qf, gf, query, gallery, protocol, rerank, rerank_options or {})
    return _dist.broadcast_object(out)


def default_protocol(dataset: Any) -> str:
    """The protocol a dataset is evaluated with when the config does not name one."""
    explicit = getattr(dataset, "protocol", None)
    if explicit:
        return str(explicit)
    name = str(getattr(dataset, "name", ""))
    for prefix, proto in (("visda", "visda"), ("sysu", "sysu"), ("regdb", "regdb")):
        if name.startswith(prefix):
            return proto
    return "market"


def _metrics_rank0(ctx: StageContext, qf: torch.Tensor, gf: torch.Tensor, query: Sequence[Any],
                   gallery: Sequence[Any], protocol: str, rerank: bool,
                   rerank_options: dict[str, Any]) -> dict[str, Any]:
    from reid_eval import create_protocol

    proto = create_protocol(protocol, pm=ctx.pm)
    opts: dict[str, Any] = {}
    if rerank:
        opts["rerank"] = dict(rerank_options) if rerank_options else True
    res = proto.evaluate(qf, gf, list(query), list(gallery), pm=ctx.pm, **opts)
    return summarize(res)


def summarize(res: dict[str, Any]) -> dict[str, Any]:
    """``{"mAP", "rank1", "rank5", "rank10", "mINP"}`` as floats from a reid-eval result."""
    out: dict[str, Any] = {"mAP": float(res["mAP"])}
    cmc = res.get("cmc")
    if cmc is not None:
        for k in (1, 5, 10):
            if len(cmc) >= k:
                out[f"rank{k}"] = float(cmc[k - 1])
    for k in ("rank1", "rank5", "rank10"):
        if k in res and k not in out:
            out[k] = float(res[k])
    if res.get("mINP") is not None:
        out["mINP"] = float(res["mINP"])
    if cmc is not None:
        out["cmc"] = [float(v) for v in list(cmc)[:20]]
    return out
