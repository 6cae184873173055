"""Sharded feature extraction and evaluation of networks on a dataset's query/gallery splits.

Extraction runs on every rank (each rank a contiguous shard, then gathered in order). Metrics are
computed on rank 0 by reid-eval (protocols, distance hooks, re-ranking) and broadcast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from reid_runner import _dist

if TYPE_CHECKING:
    from reid_runner.context import StageContext


#: ``forward(net, images)`` of :func:`extract`: a feature tensor or named outputs.
Forward = Callable[[nn.Module, torch.Tensor], "torch.Tensor | dict[str, torch.Tensor]"]


@torch.no_grad()
def extract(
    ctx: StageContext,
    nets: nn.Module | Sequence[nn.Module],
    samples: Sequence[Any],
    *,
    flip: bool = False,
    normalize: bool = True,
    batch_size: int | None = None,
    forward: Forward | None = None,
) -> Any:
    """Eval-mode features of ``samples`` on every rank (an ensemble concatenates its nets').

    Each rank extracts a contiguous shard; the shards are gathered in order, so the result is
    the same on every rank and for every world size. ``flip`` averages with the horizontally
    flipped image; ``normalize`` L2-normalises the final feature (along dimension 1).

    ``forward(net, images)`` replaces the plain eval forward ``net(images)`` of one network, to
    get other or more outputs than the eval feature. When it returns a dict of tensors (first
    dimension = images), the result is a dict of the same names, each gathered, flip-averaged
    and normalised along dimension 1 like the feature; e.g. a part model's global and part
    features: ``ctx.extract(net, samples, forward=lambda n, x: dict(zip(("global", "parts"),
    n.extract_all_features(x))))`` gives ``{"global": [N, D], "parts": [N, D, P]}``.
    """
    from reid_data import ImageDataset, build_test_transform

    net_list = [nets] if isinstance(nets, nn.Module) else list(nets)
    if forward is not None and len(net_list) != 1:
        raise ValueError(f"extract(forward=...) takes one network, got {len(net_list)}")
    d = ctx.config.data
    n, w, r = len(samples), ctx.world.size, ctx.world.rank
    lo, hi = (n * r) // w, (n * (r + 1)) // w
    ds = ImageDataset(list(samples[lo:hi]), build_test_transform(d.height, d.width))
    loader = DataLoader(ds, batch_size=batch_size or d.test_batch_size, shuffle=False,
                        num_workers=d.workers, pin_memory=ctx.device.type == "cuda",
                        generator=torch.Generator())  # keep the global generator untouched

    def one(m: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with ctx.autocast():
            out = _named(forward(m, x) if forward else m(x))
            if flip:
                out2 = _named(forward(m, torch.flip(x, dims=[3])) if forward
                              else m(torch.flip(x, dims=[3])))
                out = {k: (v.float() + out2[k].float()) / 2 for k, v in out.items()}
        return {k: v.float() for k, v in out.items()}

    def features(x: torch.Tensor) -> dict[str, torch.Tensor]:
        if len(net_list) == 1:
            return one(net_list[0], x)
        # ensemble: concatenate the L2-normalised features (§5.2)
        return {"": torch.cat([torch.nn.functional.normalize(one(m, x)[""], dim=1)
                               for m in net_list], 1)}

    modes = [m.training for m in net_list]
    for m in net_list:
        m.eval()
    batches: list[dict[str, torch.Tensor]] = []
    try:
        for batch in loader:
            batches.append(features(batch["image"].to(ctx.device, non_blocking=True)))
        if not batches:  # an empty shard: shapes from one dummy image
            dummy = torch.zeros(1, 3, d.height, d.width, device=ctx.device)
            batches.append({k: v[:0] for k, v in features(dummy).items()})
    finally:
        for m, mode in zip(net_list, modes):
            m.train(mode)
    out = {}
    for k in batches[0]:
        t = _dist.gather_variable(torch.cat([b[k] for b in batches])).cpu()
        out[k] = torch.nn.functional.normalize(t, dim=1) if normalize else t
    return out[""] if set(out) == {""} else out


def _named(out: Any) -> dict[str, torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return {"": out}
    if isinstance(out, dict) and out and "" not in out:
        return dict(out)
    raise TypeError(f"a feature forward must return a tensor or a dict of named tensors, got "
                    f"{type(out).__name__}")


def eval_splits(dataset: Any, split: str) -> tuple[list[Any], list[Any]]:
    """Query and gallery samples of ``split``: ``test`` or ``val``.

    ``val`` is the dataset's labelled validation split, ``dataset.validation()`` (reid-data's
    :meth:`ReidDataset.validation`; VisDA-2020: ``target_validation``); a dataset without one is
    a ``ValueError`` naming it.
    """
    if split == "test":
        return list(dataset.query), list(dataset.gallery)
    if split != "val":
        raise ValueError(f"unknown split {split!r}: 'test' or 'val'")
    pair = validation_split(dataset)
    if pair is None:
        raise ValueError(no_validation_message(dataset))
    return pair


def validation_split(dataset: Any) -> tuple[list[Any], list[Any]] | None:
    """``dataset.validation()`` as lists, or ``None`` (also for datasets without the accessor)."""
    accessor = getattr(dataset, "validation", None)
    pair = accessor() if callable(accessor) else None
    if pair is None:
        return None
    query, gallery = pair
    return list(query), list(gallery)


def no_validation_message(dataset: Any) -> str:
    extra = ", ".join(sorted(getattr(dataset, "extra_splits", {}))) or "none"
    return (f"dataset {getattr(dataset, 'name', dataset)!r} has no labelled validation split "
            f"(its validation() returned None; extra splits: {extra})")


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
    """``{"mAP", "rank1", "rank5", "rank10", "mINP", "cmc"}`` as floats from a reid-eval result,
    plus the protocol's other scalar results (``protocol``, ``metric``, ``camera_filter``,
    ``num_valid_queries``, VisDA's ``mAP_all``, ...) and ``rerank`` (False or its parameters)."""
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
    for k, v in res.items():
        if k in out or k in ("cmc", "mINP"):
            continue
        if isinstance(v, (bool, int, float, str)):
            out[k] = v
        elif getattr(v, "ndim", None) == 0:  # a numpy or torch scalar
            out[k] = v.item()
        elif k == "rerank" and isinstance(v, dict):  # the re-ranking parameters used
            out[k] = {str(n): x for n, x in v.items()}
    return out
