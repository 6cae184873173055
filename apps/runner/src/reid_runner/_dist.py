"""Process-group plumbing: world info, collectives that also work with gloo, BN-batch forwards.

Results must not depend on the number of processes (ARCHITECTURE "Distributed and scale"), so the
engine does not use ``DistributedDataParallel``'s per-process semantics directly:

* a global batch is cut into contiguous BN groups of ``data.bn_batch`` images; a network forward
  normalises each group separately, whichever process holds it;
* BN running statistics after a forward are the mean of the per-group updates (all groups start
  from the same statistics), averaged across processes, so 1 x 2 groups equals 2 x 1 group;
* losses are computed on the gathered global batch (:func:`gather`, differentiable) and gradients
  are averaged across processes (:func:`average_gradients`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    """Rank, world size and local rank of this process."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world_from_env() -> World:
    """World info from the torchrun environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``)."""
    return World(
        rank=int(os.environ.get("RANK", 0)),
        size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def select_device(spec: str, world: World) -> torch.device:
    """``auto``/``cpu``/``cuda``/``cuda:N``; in multi-process CUDA runs one GPU per local rank."""
    if spec == "cpu" or (spec == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError(f"run.device={spec!r} but CUDA is not available; use run.device=cpu")
    if spec.startswith("cuda:"):
        dev = torch.device(spec)
    else:
        dev = torch.device("cuda", world.local_rank % torch.cuda.device_count())
    torch.cuda.set_device(dev)
    return dev


def init_process_group(world: World, device: torch.device, backend: str = "auto") -> None:
    """Join the process group set up by torchrun (no-op for a single process)."""
    if not world.distributed or (dist.is_available() and dist.is_initialized()):
        return
    if backend == "auto":
        backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)


def destroy_process_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    if _active():
        dist.barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s picklable object on every rank."""
    if not _active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_object(obj: Any) -> list[Any]:
    if not _active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def all_reduce_mean(tensors: Sequence[torch.Tensor]) -> None:
    """Average float tensors across processes in place (one flattened collective)."""
    if not _active() or not tensors:
        return
    flat = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in tensors])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset:offset + n].view_as(t).to(t.dtype))
        offset += n


def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Make every rank hold rank ``src``'s parameters and buffers."""
    if not _active():
        return
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, src=src)


class _Gather(torch.autograd.Function):
    """all_gather whose backward sums the gradients of every rank's copy (gloo has no
    reduce_scatter, so the full gradient is all-reduced and the local slice returned)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        world = dist.get_world_size()
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.n:(ctx.rank + 1) * ctx.n]


def gather(x: Any) -> Any:
    """Concatenate a tensor (or a dict / tuple of tensors) over ranks along dim 0, in rank order.

    Differentiable: with gradients averaged across ranks afterwards, a loss computed on the
    gathered global batch gets exactly the gradient of a single process holding that batch.
    Identity in a single process.
    """
    if not _active():
        return x
    if isinstance(x, dict):
        return {k: gather(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(gather(v) for v in x)
    if not isinstance(x, torch.Tensor):
        return x
    if x.requires_grad:
        return _Gather.apply(x)
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def gather_variable(x: torch.Tensor) -> torch.Tensor:
    """Concatenate tensors whose first dimension differs per rank (no gradient), in rank order."""
    if not _active():
        return x
    sizes = all_gather_object(int(x.shape[0]))
    width = max(sizes)
    pad = torch.zeros((width, *x.shape[1:]), dtype=x.dtype, device=x.device)
    pad[: x.shape[0]] = x
    parts = [torch.empty_like(pad) for _ in sizes]
    dist.all_gather(parts, pad)
    return torch.cat([p[:n] for p, n in zip(parts, sizes)])


def average_gradients(params: Iterable[torch.Tensor]) -> None:
    """Average ``.grad`` of ``params`` across processes (one flattened collective per dtype)."""
    if not _active():
        return
    grads = [p.grad for p in params if p.grad is not None]
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for g in grads:
        by_dtype.setdefault(g.dtype, []).append(g)
    world = dist.get_world_size()
    for group in by_dtype.values():
        flat = torch.cat([g.reshape(-1) for g in group])
        dist.all_reduce(flat)
        flat /= world
        offset = 0
        for g in group:
            n = g.numel()
            g.copy_(flat[offset:offset + n].view_as(g))
            offset += n


# --------------------------------------------------------------------------- BN-batch forward


def _bn_modules(net: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [
        m for m in net.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats and m.training
    ]


def _cat(outs: list[Any]) -> Any:
    first = outs[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(outs) if len(outs) > 1 else first
    if isinstance(first, dict):
        return {k: _cat([o[k] for o in outs]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_cat([o[i] for o in outs]) for i in range(len(first)))
    return first


def forward_bn_groups(net: nn.Module, x: Any, group: int, *args: Any, **kwargs: Any) -> Any:
    """Forward ``x`` (tensor or tuple of tensors sharing dim 0) in BN groups of ``group`` images.

    Outputs are concatenated in order. In training mode the BN running statistics end as the mean
    of the per-group updates, averaged over processes (see module docstring).
    """
    first = x[0] if isinstance(x, (list, tuple)) else x
    n = first.shape[0]
    group = group or n
    if n % group:
        raise ValueError(f"local batch of {n} images is not a multiple of the BN batch {group}")
    bns = _bn_modules(net)
    chunks = n // group
    if not bns or (chunks == 1 and not _active()):
        return net(x, *args, **kwargs)

    def piece(i: int) -> Any:
        if isinstance(x, (list, tuple)):
            return type(x)(t[i * group:(i + 1) * group] for t in x)
        return x[i * group:(i + 1) * group]

    # Buffers are swapped for fresh tensors, never written in place: autograd saved the running
    # statistics each group's batch_norm saw, and an in-place write would invalidate them.
    start = [(m.running_mean.detach().clone(), m.running_var.detach().clone(),
              m.num_batches_tracked.detach().clone()) for m in bns]
    # float64 sums, divided by the total number of groups over all processes: 1 x 2 groups and
    # 2 x 1 group then give bitwise the same statistics
    sums = [(torch.zeros_like(a, dtype=torch.float64), torch.zeros_like(b, dtype=torch.float64))
            for a, b, _ in start]
    outs = []
    for i in range(chunks):
        for m, (mean, var, nbt) in zip(bns, start):
            m.running_mean = mean.clone()
            m.running_var = var.clone()
            m.num_batches_tracked = nbt.clone()
        outs.append(net(piece(i), *args, **kwargs))
        with torch.no_grad():
            for m, (sm, sv) in zip(bns, sums):
                sm += m.running_mean
                sv += m.running_var
    with torch.no_grad():
        flat = torch.cat([t.reshape(-1) for pair in sums for t in pair])
        total = chunks
        if _active():
            dist.all_reduce(flat)
            total *= dist.get_world_size()
        flat /= total
        offset = 0
        for m, (sm, sv), (mean, var, nbt) in zip(bns, sums, start):
            m.running_mean = flat[offset:offset + sm.numel()].view_as(mean).to(mean.dtype)
            offset += sm.numel()
            m.running_var = flat[offset:offset + sv.numel()].view_as(var).to(var.dtype)
            offset += sv.numel()
            m.num_batches_tracked = nbt + 1
    return _cat(outs)
