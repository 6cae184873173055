"""The BN-batch setting: batch-norm statistics over a fixed number of samples, whatever the
number of devices (ARCHITECTURE "Distributed and scale").

* device batch > BN batch: :class:`GhostBatchNorm1d`/``2d`` normalise each sub-batch of
  ``bn_batch`` samples with its own statistics (what that many devices would each compute);
  running statistics are updated once per forward with the mean of the sub-batch statistics.
* device batch < BN batch: :func:`convert_sync_bn` turns BN into SyncBatchNorm over process
  groups of ``bn_batch // device_batch`` consecutive ranks (:func:`sync_bn_group_ranks`).
* equal: plain BN.

:func:`configure_bn_batch` picks one of the three.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class _GhostMixin:
    ghost_batch: int

    def _ghost(self, x: Tensor) -> Tensor:
        bn: nn.modules.batchnorm._BatchNorm = self  # type: ignore[assignment]
        n = x.size(0)
        g = self.ghost_batch
        if not bn.training or g <= 0 or n <= g:
            return nn.modules.batchnorm._BatchNorm.forward(bn, x)
        if n % g:
            raise ValueError(f"ghost BN: batch {n} is not a multiple of the BN batch {g}")
        k = n // g
        xg = x.reshape(k, g, *x.shape[1:])
        dims = [1] + list(range(3, xg.dim()))  # per chunk: samples and spatial positions
        mean = xg.mean(dim=dims, keepdim=True)
        var = xg.var(dim=dims, unbiased=False, keepdim=True)
        y = (xg - mean) / torch.sqrt(var + bn.eps)
        shape = [1, 1, -1] + [1] * (xg.dim() - 3)
        if bn.affine:
            y = y * bn.weight.view(shape) + bn.bias.view(shape)
        if bn.track_running_stats and bn.running_mean is not None:
            with torch.no_grad():
                m = xg[0].numel() // xg.size(2)  # values per channel in one chunk
                chunk_mean = mean.reshape(k, -1)
                chunk_var = var.reshape(k, -1) * (m / max(m - 1, 1))
                bn.num_batches_tracked += 1
                n_seen = float(bn.num_batches_tracked)
                mom = bn.momentum if bn.momentum is not None else 1.0 / n_seen
                bn.running_mean.mul_(1 - mom).add_(chunk_mean.mean(0), alpha=mom)
                bn.running_var.mul_(1 - mom).add_(chunk_var.mean(0), alpha=mom)
        return y.reshape(x.shape)


class GhostBatchNorm1d(_GhostMixin, nn.BatchNorm1d):
    """BatchNorm1d over sub-batches of ``ghost_batch`` samples in train mode (same keys as BN)."""

    def __init__(self, num_features: int, ghost_batch: int = 0, **kwargs: Any) -> None:
        super().__init__(num_features, **kwargs)
        self.ghost_batch = int(ghost_batch)

    def forward(self, x: Tensor) -> Tensor:
        return self._ghost(x)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", ghost_batch={self.ghost_batch}"


class GhostBatchNorm2d(_GhostMixin, nn.BatchNorm2d):
    """BatchNorm2d over sub-batches of ``ghost_batch`` samples in train mode (same keys as BN)."""

    def __init__(self, num_features: int, ghost_batch: int = 0, **kwargs: Any) -> None:
        super().__init__(num_features, **kwargs)
        self.ghost_batch = int(ghost_batch)

    def forward(self, x: Tensor) -> Tensor:
        return self._ghost(x)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", ghost_batch={self.ghost_batch}"


def _swap_bn(model: nn.Module, make: Any) -> nn.Module:
    for name, child in list(model.named_children()):
        if type(child) in (nn.BatchNorm1d, nn.BatchNorm2d, GhostBatchNorm1d, GhostBatchNorm2d):
            new = make(child)
            new.load_state_dict(child.state_dict())
            for p_new, p_old in zip(new.parameters(), child.parameters()):
                p_new.requires_grad_(p_old.requires_grad)
            new.to(device=child.weight.device if child.weight is not None else None)
            new.train(child.training)
            setattr(model, name, new)
        else:
            _swap_bn(child, make)
    return model


def convert_ghost_bn(model: nn.Module, ghost_batch: int) -> nn.Module:
    """Make every BatchNorm1d/2d a ghost BN over ``ghost_batch`` samples (0 = plain BN).
    In place; weights, statistics and frozen flags are kept."""

    def make(bn: nn.modules.batchnorm._BatchNorm) -> nn.Module:
        cls = GhostBatchNorm1d if isinstance(bn, nn.BatchNorm1d) else GhostBatchNorm2d
        return cls(bn.num_features, ghost_batch, eps=bn.eps, momentum=bn.momentum,
                   affine=bn.affine, track_running_stats=bn.track_running_stats)

    return _swap_bn(model, make)


def sync_bn_group_ranks(world_size: int, group_size: int) -> list[list[int]]:
    """Consecutive rank groups of ``group_size`` (``world_size`` must be a multiple)."""
    if group_size < 1 or world_size % group_size:
        raise ValueError(f"SyncBN group size {group_size} does not divide world size {world_size}")
    return [list(range(s, s + group_size)) for s in range(0, world_size, group_size)]


def convert_sync_bn(model: nn.Module, group_size: int) -> nn.Module:
    """SyncBatchNorm over groups of ``group_size`` consecutive ranks.

    Every rank must call it (``torch.distributed.new_group`` is collective). Returns the
    converted model (``nn.SyncBatchNorm.convert_sync_batchnorm``).
    """
    import torch.distributed as dist

    world, rank = dist.get_world_size(), dist.get_rank()
    groups = [dist.new_group(r) for r in sync_bn_group_ranks(world, group_size)]
    mine = groups[rank // group_size] if group_size < world else None
    return nn.SyncBatchNorm.convert_sync_batchnorm(model, process_group=mine)


def configure_bn_batch(model: nn.Module, bn_batch: int, device_batch: int,
                       world_size: int = 1) -> nn.Module:
    """Make BN statistics cover ``bn_batch`` samples given ``device_batch`` samples per device.

    Returns the (possibly new) model. With DSBN, pass the per-domain sizes (half the batch).
    """
    if bn_batch <= 0 or device_batch <= 0:
        raise ValueError(f"bn_batch and device_batch must be positive, got {bn_batch}, "
                         f"{device_batch}")
    if device_batch > bn_batch:
        if device_batch % bn_batch:
            raise ValueError(f"device batch {device_batch} is not a multiple of bn_batch "
                             f"{bn_batch}")
        return convert_ghost_bn(model, bn_batch)
    if device_batch < bn_batch:
        if bn_batch % device_batch:
            raise ValueError(f"bn_batch {bn_batch} is not a multiple of the device batch "
                             f"{device_batch}")
        group = bn_batch // device_batch
        if group > world_size or world_size % group:
            raise ValueError(f"bn_batch {bn_batch} needs {group} devices of {device_batch} "
                             f"per BN group, but the world size is {world_size}")
        return convert_sync_bn(model, group)
    return model


