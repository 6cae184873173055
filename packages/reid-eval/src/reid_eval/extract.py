"""Batched feature extraction: flip averaging, any device, sharded across ranks and gathered.

Loader items (batches) may be

* a dict with key ``"img"`` (a (B, C, H, W) tensor) and optionally ``"index"`` (the dataset
  indices of the batch: needed to restore dataset order in a distributed run unless the loader's
  sampler yields them);
* a tuple / list whose first element is the image tensor (``(img, ...)``, e.g. the
  ``(img, path, pid, camid, index)`` tuples of open-reid style datasets), where an element at
  ``index_position`` (default: none) holds the dataset indices;
* a bare image tensor.

The model is put in ``eval()`` mode (a DSBN model then uses its target branch / collapsed BN as
reid-models defines it) and called as ``model(img)``; a tuple / list output uses its first
element, a dict output its ``"features"`` (or ``"feat"``) entry. Pass ``forward`` for anything
else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.distributed as dist

Forward = Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]


def _images_and_index(batch: Any, index_position: int | None) -> tuple[torch.Tensor, Any]:
    if isinstance(batch, dict):
        if "img" not in batch:
            raise KeyError(f"loader batch dict has no 'img' key (keys: {sorted(batch)})")
        return batch["img"], batch.get("index")
    if isinstance(batch, (tuple, list)):
        idx = batch[index_position] if index_position is not None else None
        return batch[0], idx
    if isinstance(batch, torch.Tensor):
        return batch, None
    raise TypeError(f"cannot read images from a loader batch of type {type(batch).__name__}")


def _default_forward(model: torch.nn.Module, img: torch.Tensor) -> torch.Tensor:
    out = model(img)
    if isinstance(out, (tuple, list)):
        out = out[0]
    if isinstance(out, dict):
        for key in ("features", "feat"):
            if key in out:
                return out[key]
        raise KeyError(f"model output dict has no 'features'/'feat' key (keys: {sorted(out)})")
    return out


def _sampler_indices(loader: Any) -> list[int] | None:
    sampler = getattr(loader, "batch_sampler", None)
    if sampler is not None:
        return [int(i) for b in sampler for i in b]
    sampler = getattr(loader, "sampler", None)
    return [int(i) for i in sampler] if sampler is not None else None


@torch.no_grad()
def extract_features(
    model: torch.nn.Module,
    loader: Iterable[Any],
    *,
    device: str | torch.device | None = None,
    flip: bool = False,
    normalize: bool = False,
    forward: Forward | None = None,
    index_position: int | None = None,
    num_samples: int | None = None,
) -> torch.Tensor:
    """Features of every item of ``loader`` as an (N, D) float32 CPU tensor, in dataset order.

    :param device: where the model runs (default: the model's parameters' device).
    :param flip: average the features of the image and its horizontal flip (METHODS §5.2).
    :param normalize: L2-normalise the (averaged) features.
    :param forward: ``forward(model, img) -> (B, D)`` overriding the default call.
    :param num_samples: dataset size in a distributed run (default ``len(loader.dataset)``).

    In a distributed run (``torch.distributed`` initialised, world size > 1) every rank passes
    a loader over its own shard (e.g. a ``DistributedSampler(shuffle=False)``; padding
    duplicates are fine); features are all-gathered and put back in dataset order on every
    rank, using each batch's dataset indices (``"index"`` key / ``index_position``) or else the
    order of the loader's sampler. Without distribution the loader's order is the output order.
    """
    fwd = forward or _default_forward
    was_training = model.training
    model.eval()
    if device is None:
        p = next(iter(model.parameters()), None)
        device = p.device if p is not None else torch.device("cpu")
    feats, indices = [], []
    try:
        for batch in loader:
            img, idx = _images_and_index(batch, index_position)
            img = img.to(device, non_blocking=True)
            f = fwd(model, img).float()
            if flip:
                f = (f + fwd(model, torch.flip(img, dims=[3])).float()) / 2
            feats.append(f.cpu())
            if idx is not None:
                indices.append(torch.as_tensor(idx).reshape(-1).long())
    finally:
        model.train(was_training)
    out = torch.cat(feats, 0) if feats else torch.zeros(0, 0)
    if normalize and out.numel():
        out = torch.nn.functional.normalize(out, dim=1)
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        if indices:
            index = torch.cat(indices)
        else:
            from_sampler = _sampler_indices(loader)
            if from_sampler is None:
                raise ValueError(
                    "distributed extraction needs dataset indices: give batches an 'index' entry "
                    "or use a loader with a sampler"
                )
            index = torch.tensor(from_sampler[: len(out)], dtype=torch.long)
        if len(index) != len(out):
            raise ValueError(f"{len(index)} dataset indices for {len(out)} extracted features")
        if num_samples is None:
            num_samples = len(loader.dataset) if hasattr(loader, "dataset") else None  # type: ignore[attr-defined]
        out = gather_in_order(out, index, num_samples)
    return out


def gather_in_order(local: torch.Tensor, index: torch.Tensor, num_samples: int | None = None) -> torch.Tensor:
    """All-gather per-rank ``(features, dataset indices)`` and scatter them into dataset order.

    Works with the gloo (CPU) and NCCL backends (tensors are moved to the backend's device for
    the collective); ranks may hold different numbers of rows.
    """
    backend = dist.get_backend()
    dev = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
    world = dist.get_world_size()
    n = torch.tensor([local.shape[0], local.shape[1] if local.ndim == 2 else 0], device=dev)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n)
    rows = [int(s[0]) for s in sizes]
    dim = max(int(s[1]) for s in sizes)
    m = max(rows)
    pad_f = torch.zeros(m, dim, device=dev)
    pad_i = torch.full((m,), -1, dtype=torch.long, device=dev)
    if local.shape[0]:
        pad_f[: local.shape[0]] = local.to(dev)
        pad_i[: local.shape[0]] = index.to(dev)
    all_f = [torch.empty_like(pad_f) for _ in range(world)]
    all_i = [torch.empty_like(pad_i) for _ in range(world)]
    dist.all_gather(all_f, pad_f)
    dist.all_gather(all_i, pad_i)
    f = torch.cat([a[:r] for a, r in zip(all_f, rows)]).cpu()
    i = torch.cat([a[:r] for a, r in zip(all_i, rows)]).cpu()
    total = int(num_samples) if num_samples is not None else int(i.max()) + 1 if len(i) else 0
    out = torch.zeros(total, dim)
    seen = torch.zeros(total, dtype=torch.bool)
    out[i] = f
    seen[i] = True
    if not bool(seen.all()):
        missing = torch.nonzero(~seen).flatten()[:5].tolist()
        raise ValueError(f"no rank extracted dataset items {missing}... (shards must cover the dataset)")
    return out
