"""Domain-specific batch normalisation (MMT+, METHODS §2.2, §12.4).

:func:`convert_dsbn` replaces every BatchNorm1d/2d by a DSBN holding a ``source`` and a ``target``
copy of it. In train mode a batch is split in halves, ``[source ; target]``; in eval mode only the
target copy is used. :func:`collapse_dsbn` turns a model back into plain BN (target statistics by
default) for evaluation and export.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import Tensor, nn

DOMAINS = ("mixed", "source", "target")
BRANCHES = ("source", "target")


class _DSBN(nn.Module):
    """Two copies of a BN layer; ``domain`` selects the routing in train mode."""

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm) -> None:
        super().__init__()
        self.source = copy.deepcopy(bn)
        self.target = copy.deepcopy(bn)
        self.domain = "mixed"

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.domain == "target":
            return self.target(x)
        if self.domain == "source":
            return self.source(x)
        n = x.size(0)
        if n % 2:
            raise ValueError(f"DSBN in train mode needs an even batch laid out as "
                             f"[source half ; target half], got batch size {n}")
        xs, xt = x[: n // 2], x[n // 2 :]
        return torch.cat((self.source(xs), self.target(xt)), 0)


class DSBN1d(_DSBN):
    """Domain-specific BatchNorm1d (e.g. the BNNeck ``feat_bn``; its frozen bias stays frozen)."""


class DSBN2d(_DSBN):
    """Domain-specific BatchNorm2d."""


def _replace(module: nn.Module, fn: object) -> nn.Module:
    for name, child in list(module.named_children()):
        new = fn(child)  # type: ignore[operator]
        if new is not None:
            setattr(module, name, new)
        else:
            _replace(child, fn)
    return module


def convert_dsbn(model: nn.Module) -> nn.Module:
    """Replace every BatchNorm1d/2d (including SyncBatchNorm/ghost BN) by a DSBN whose two
    copies start from the original's weights and statistics. In place; returns ``model``."""

    def fn(m: nn.Module) -> nn.Module | None:
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            return DSBN1d(m) if isinstance(m, nn.BatchNorm1d) else DSBN2d(m)
        return None

    if isinstance(model, nn.modules.batchnorm._BatchNorm):
        raise TypeError("convert_dsbn converts the BN layers inside a model, not a bare BN")
    return _replace(model, fn)


def collapse_dsbn(model: nn.Module, branch: str = "target") -> nn.Module:
    """Replace each DSBN by its ``branch`` copy (a plain BN). In place; returns ``model``."""
    if branch not in BRANCHES:
        raise ValueError(f"Unknown DSBN branch {branch!r}; choices: {BRANCHES}")
    return _replace(model, lambda m: getattr(m, branch) if isinstance(m, _DSBN) else None)


def dsbn_layers(model: nn.Module) -> Iterator[_DSBN]:
    return (m for m in model.modules() if isinstance(m, _DSBN))


def set_dsbn_domain(model: nn.Module, domain: str) -> None:
    """Train-mode routing of every DSBN: ``"mixed"`` (halves, default), or a whole batch to
    ``"source"`` or ``"target"`` (e.g. a target-only forward during training)."""
    if domain not in DOMAINS:
        raise ValueError(f"Unknown DSBN domain {domain!r}; choices: {DOMAINS}")
    for m in dsbn_layers(model):
        m.domain = domain
