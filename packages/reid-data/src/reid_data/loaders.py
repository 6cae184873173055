"""Fixed-iterations-per-epoch loading and joint source+target batches (METHODS §0.3, §2.3)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch

__all__ = ["IterLoader", "JointIterLoader", "concat_batches"]


def _epoch_aware(loader: Any) -> list[Any]:
    out = []
    for attr in ("batch_sampler", "sampler"):
        obj = getattr(loader, attr, None)
        if obj is not None and hasattr(obj, "set_epoch") and obj not in out:
            out.append(obj)
    return out


class IterLoader:
    """An "epoch" of exactly ``length`` batches (the official ``--iters``), whatever the data size.

    The wrapped iterable (usually a ``DataLoader``) is re-iterated when exhausted. With the
    samplers of :mod:`reid_data.samplers` (ideally built with ``batches_per_epoch=length``) the
    batches are a pure function of (seed, epoch, position); :meth:`new_epoch` forwards the epoch
    (and a resume position) to them.
    """

    def __init__(self, loader: Iterable[Any], length: int | None = None) -> None:
        if length is None and not hasattr(loader, "__len__"):
            raise ValueError("IterLoader needs length= for a loader without __len__")
        self.loader = loader
        self.length = length
        self._iter: Iterator[Any] | None = None

    def __len__(self) -> int:
        return self.length if self.length is not None else len(self.loader)  # type: ignore[arg-type]

    def new_epoch(self, epoch: int | None = None, position: int = 0) -> None:
        """Start a new epoch: set it (and a resume position) on the sampler, restart iteration."""
        if epoch is not None:
            for sampler in _epoch_aware(self.loader):
                try:
                    sampler.set_epoch(epoch, position)
                except TypeError:  # torch's DistributedSampler.set_epoch(epoch)
                    sampler.set_epoch(epoch)
        self._iter = iter(self.loader)

    def next(self) -> Any:
        if self._iter is None:
            self._iter = iter(self.loader)
        try:
            return next(self._iter)
        except StopIteration:
            self._iter = iter(self.loader)
            return next(self._iter)

    def __iter__(self) -> Iterator[Any]:
        for _ in range(len(self)):
            yield self.next()


class JointIterLoader:
    """One source batch and one target batch per iteration (MMT+ joint training).

    Yields ``(source_batch, target_batch)``; :func:`concat_batches` lays them out as
    ``[source ; target]`` for domain-specific BN.
    """

    def __init__(self, source: IterLoader | Iterable[Any], target: IterLoader | Iterable[Any],
                 length: int) -> None:
        self.source = source if isinstance(source, IterLoader) else IterLoader(source, length)
        self.target = target if isinstance(target, IterLoader) else IterLoader(target, length)
        self.length = length

    def __len__(self) -> int:
        return self.length

    def new_epoch(self, epoch: int | None = None, position: int = 0) -> None:
        self.source.new_epoch(epoch, position)
        self.target.new_epoch(epoch, position)

    def next(self) -> tuple[Any, Any]:
        return self.source.next(), self.target.next()

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for _ in range(self.length):
            yield self.next()


def concat_batches(source: Mapping[str, Any], target: Mapping[str, Any]) -> dict[str, Any]:
    """Concatenate two collated dict batches along dim 0 as ``[source ; target]``.

    Tensors are concatenated, lists (paths, multi-view image lists) concatenated element-wise for
    lists of tensors or joined otherwise; keys present in only one batch are dropped. A
    ``domain`` tensor (0 = source, 1 = target) is added.
    """
    out: dict[str, Any] = {}
    n_src = n_tgt = 0
    for key in source.keys() & target.keys():
        a, b = source[key], target[key]
        if isinstance(a, torch.Tensor):
            out[key] = torch.cat([a, b], 0)
            if key in ("pid", "index"):
                n_src, n_tgt = len(a), len(b)
        elif isinstance(a, list) and a and isinstance(a[0], torch.Tensor):
            out[key] = [torch.cat([x, y], 0) for x, y in zip(a, b, strict=True)]
        else:
            out[key] = list(a) + list(b)
    if n_src or n_tgt:
        out["domain"] = torch.cat([torch.zeros(n_src, dtype=torch.long),
                                   torch.ones(n_tgt, dtype=torch.long)])
    return out
