"""Deterministic, shardable batch samplers (METHODS §0.3 and §7.4).

Every sampler here is a *batch sampler* (``DataLoader(ds, batch_sampler=sampler)``) that defines a
stream of **global** batches as a pure function of ``(seed, epoch, position)``; each rank yields
only its share (rank ``r`` of ``W`` takes items ``[r*B/W, (r+1)*B/W)`` of every global batch). The
union of the ranks' shares is the global batch of a single process, so results do not depend on
the number of GPUs, and a run resumed from ``state_dict()`` — on any world size — sees the same
global batches.

Within an epoch the stream is made of *passes* (one pass = one epoch of the official sampler,
cut into global batches with ``drop_last``); a pass is drawn with ``numpy`` from
``SeedSequence([seed, epoch, pass])``. ``len(sampler)`` is ``batches_per_epoch`` when given (the
``--iters`` of the official IterLoader; the stream continues into further passes as needed), else
the number of global batches in the first pass. Iterating again without ``set_epoch`` continues
the stream instead of replaying it.

Resuming: ``state_dict()`` returns ``{"seed", "epoch", "position", "batch_size"}`` where
``position`` counts the global batches handed out in this epoch. A DataLoader with workers pulls
batches ahead of the training loop, so for exact resume store the number of iterations the loop
consumed and call ``set_epoch(epoch, position=consumed)`` (or ``load_state_dict``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Sampler

__all__ = [
    "IdentityBatchSampler",
    "PairedModalityBatchSampler",
    "RandomBatchSampler",
    "distributed_info",
]

_SALT_PAIRED = 0x5EED


def distributed_info(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """``(rank, world_size)`` from the arguments, else torch.distributed, else ``(0, 1)``."""
    if rank is None or world_size is None:
        import torch.distributed as dist

        active = dist.is_available() and dist.is_initialized()
        rank = rank if rank is not None else (dist.get_rank() if active else 0)
        world_size = world_size if world_size is not None else (
            dist.get_world_size() if active else 1)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"invalid rank {rank} for world_size {world_size}")
    return rank, world_size


def _pid_cam(sample: Any) -> tuple[int, int]:
    return int(sample[1]), int(sample[2])


class _DeterministicBatchSampler(Sampler[list[int]]):
    """The global-batch stream, sharding, epoch/position state and iteration."""

    def __init__(
        self,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        batches_per_epoch: int | None = None,
        shard_unit: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.rank, self.world_size = distributed_info(rank, world_size)
        if (batch_size // shard_unit) % self.world_size or batch_size % shard_unit:
            raise ValueError(
                f"global batch_size {batch_size} cannot be shared equally by world_size "
                f"{self.world_size} (each rank needs a whole multiple of {shard_unit})"
            )
        if batches_per_epoch is not None and batches_per_epoch < 1:
            raise ValueError(f"batches_per_epoch must be >= 1 or None, got {batches_per_epoch}")
        self.batch_size = batch_size
        self.seed = int(seed)
        self.batches_per_epoch = batches_per_epoch
        self.epoch = 0
        self.position = 0

    # -- to implement ---------------------------------------------------------------
    def _natural_length(self, epoch: int) -> int:
        raise NotImplementedError

    def global_batch(self, epoch: int, position: int) -> list[int]:
        """The global batch at ``position`` of ``epoch`` (independent of rank and world size)."""
        raise NotImplementedError

    def _share(self, batch: list[int]) -> list[int]:
        per = len(batch) // self.world_size
        return batch[self.rank * per:(self.rank + 1) * per]

    # -- state -------------------------------------------------------------------------
    def set_epoch(self, epoch: int, position: int = 0) -> None:
        """Select the epoch's stream and start at global batch ``position`` (0 = its start)."""
        if position < 0:
            raise ValueError(f"position must be >= 0, got {position}")
        self.epoch, self.position = int(epoch), int(position)

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position,
                "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        for key in ("seed", "batch_size"):
            if key in state and int(state[key]) != getattr(self, key):
                raise ValueError(
                    f"sampler state has {key}={state[key]} but this sampler has "
                    f"{key}={getattr(self, key)}; the global batches would differ"
                )
        self.set_epoch(int(state["epoch"]), int(state.get("position", 0)))

    # -- iteration ---------------------------------------------------------------------
    def __len__(self) -> int:
        if self.batches_per_epoch is not None:
            return self.batches_per_epoch
        return self._natural_length(self.epoch)

    def __iter__(self) -> Iterator[list[int]]:
        length = len(self)
        if length == 0:
            raise ValueError(
                f"{type(self).__name__}: not enough samples for one global batch of "
                f"{self.batch_size}"
            )
        for _ in range(length - self.position % length):
            batch = self.global_batch(self.epoch, self.position)
            self.position += 1
            yield self._share(batch)


class _PassBatchSampler(_DeterministicBatchSampler):
    """Streams made of passes of an index order, each cut into ``batch_size`` (drop_last)."""

    def __init__(self, batch_size: int, **kwargs: Any) -> None:
        super().__init__(batch_size, **kwargs)
        self._cache_epoch: int | None = None
        self._pass_starts: list[int] = [0]  # global-batch offset of each computed pass
        self._passes: dict[int, list[list[int]]] = {}

    def _pass_order(self, rng: np.random.Generator) -> list[int]:
        raise NotImplementedError

    def _compute_pass(self, epoch: int, index: int) -> list[list[int]]:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed % 2**63, epoch, index]))
        order = self._pass_order(rng)
        # Too few samples for one batch (e.g. few clusters in an early epoch): chain further
        # draws into the pass, as the official IterLoader re-iterates its sampler.
        while 0 < len(order) < self.batch_size:
            order = order + self._pass_order(rng)
        n = len(order) // self.batch_size
        return [order[i * self.batch_size:(i + 1) * self.batch_size] for i in range(n)]

    def _locate(self, epoch: int, position: int) -> tuple[int, int]:
        if self._cache_epoch != epoch:
            self._cache_epoch, self._pass_starts, self._passes = epoch, [0], {}
        k = 0
        while True:
            if k + 1 >= len(self._pass_starts):
                batches = self._compute_pass(epoch, k)
                if not batches:
                    raise ValueError(
                        f"{type(self).__name__}: a pass yields fewer samples than one global "
                        f"batch of {self.batch_size}"
                    )
                self._passes = {k: batches}  # keep only the newest pass in memory
                self._pass_starts.append(self._pass_starts[k] + len(batches))
            if position < self._pass_starts[k + 1]:
                return k, position - self._pass_starts[k]
            k += 1

    def global_batch(self, epoch: int, position: int) -> list[int]:
        k, offset = self._locate(epoch, position)
        if k not in self._passes:
            self._passes = {k: self._compute_pass(epoch, k)}
        return list(self._passes[k][offset])

    def _natural_length(self, epoch: int) -> int:
        k, _ = self._locate(epoch, 0)
        return self._pass_starts[k + 1] - self._pass_starts[k]


class RandomBatchSampler(_PassBatchSampler):
    """Plain shuffling (``num_instances = 0`` in the official scripts), with drop_last."""

    def __init__(self, num_samples: int, batch_size: int, **kwargs: Any) -> None:
        super().__init__(batch_size, **kwargs)
        self.num_samples = int(num_samples)

    def _pass_order(self, rng: np.random.Generator) -> list[int]:
        return rng.permutation(self.num_samples).tolist()


class IdentityBatchSampler(_PassBatchSampler):
    """P x K identity sampler preferring other cameras (``RandomMultipleGallerySampler``).

    Per pass: shuffle the identities; for each, a random anchor, then ``K-1`` images of the same
    identity drawn from *other cameras* than the anchor's (without replacement when at least ``K``
    such images exist — the official ``>= K`` test — else with replacement); if the identity has
    only the anchor's camera, ``K-1`` of its other images likewise; an identity with a single image
    contributes only its anchor (so later groups shift, as in the official code). The pass is cut
    into global batches of ``batch_size`` (drop_last). ``skip_negative_pids`` drops pid < 0 (the
    VisDA/MMT+ variant, for DBSCAN outliers).

    ``samples``: a sequence of :class:`~reid_data.Sample` or ``(path, pid, camid, ...)`` tuples.
    """

    def __init__(
        self,
        samples: Sequence[Any],
        batch_size: int,
        num_instances: int = 4,
        *,
        skip_negative_pids: bool = False,
        **kwargs: Any,
    ) -> None:
        if num_instances < 1 or batch_size % num_instances:
            raise ValueError(
                f"batch_size {batch_size} must be a multiple of num_instances {num_instances}"
            )
        super().__init__(batch_size, **kwargs)
        self.num_instances = num_instances
        self._index: dict[int, list[int]] = {}
        self._cams: dict[int, list[int]] = {}
        for i, s in enumerate(samples):
            pid, cam = _pid_cam(s)
            if pid < 0 and skip_negative_pids:
                continue
            self._index.setdefault(pid, []).append(i)
            self._cams.setdefault(pid, []).append(cam)
        self.pids = list(self._index)  # first-appearance order, as the official dict keys
        if not self.pids:
            raise ValueError("IdentityBatchSampler: no samples with a usable pid")

    def _pass_order(self, rng: np.random.Generator) -> list[int]:
        k = self.num_instances
        out: list[int] = []
        for kid in rng.permutation(len(self.pids)).tolist():
            pid = self.pids[kid]
            index, cams = self._index[pid], self._cams[pid]
            anchor_pos = int(rng.integers(len(index)))
            anchor = index[anchor_pos]
            out.append(anchor)
            pool = [j for j, c in enumerate(cams) if c != cams[anchor_pos]]
            if not pool:
                pool = [j for j, idx in enumerate(index) if idx != anchor]
                if not pool:
                    continue
            picks = rng.choice(pool, size=k - 1, replace=len(pool) < k)
            out.extend(index[j] for j in picks.tolist())
        return out


class PairedModalityBatchSampler(_DeterministicBatchSampler):
    """The AGW/DDAG RGB-IR identity sampler (METHODS §7.4), deterministic and shardable.

    Each global batch draws ``num_ids`` distinct identities (without replacement) and, per
    identity, ``num_pos`` RGB and ``num_pos`` IR images (with replacement). A batch is the list
    ``[rgb_1..rgb_n, ir_1..ir_n]`` (``n = num_ids*num_pos``) of sample indices where ``rgb_i`` and
    ``ir_i`` share the identity (the official loader pairs them item by item). Rank ``r`` gets the
    RGB and IR images of its ``num_ids/W`` identities. Default epoch length ``N // n``, ``N`` the
    larger modality size (SYSU-MM01: 22 258 // 32 = 695). Identities lacking either modality are
    not drawn. Each global batch is drawn from ``SeedSequence([seed, epoch, position, salt])``.
    """

    def __init__(
        self,
        samples: Sequence[Any],
        num_ids: int = 8,
        num_pos: int = 4,
        *,
        rgb: str = "rgb",
        ir: str = "ir",
        **kwargs: Any,
    ) -> None:
        self.num_ids, self.num_pos = num_ids, num_pos
        super().__init__(2 * num_ids * num_pos, shard_unit=2 * num_pos, **kwargs)
        self._rgb: dict[int, list[int]] = {}
        self._ir: dict[int, list[int]] = {}
        n_rgb = n_ir = 0
        for i, s in enumerate(samples):
            modality = s[3] if len(s) > 3 else None
            if modality == rgb:
                self._rgb.setdefault(int(s[1]), []).append(i)
                n_rgb += 1
            elif modality == ir:
                self._ir.setdefault(int(s[1]), []).append(i)
                n_ir += 1
        self.pids = np.array(sorted(set(self._rgb) & set(self._ir)))
        if len(self.pids) < num_ids:
            raise ValueError(
                f"PairedModalityBatchSampler: {len(self.pids)} identities have both {rgb!r} and "
                f"{ir!r} images; num_ids={num_ids} needs at least that many"
            )
        self.num_rgb, self.num_ir = n_rgb, n_ir

    def _natural_length(self, epoch: int) -> int:
        return max(self.num_rgb, self.num_ir) // (self.num_ids * self.num_pos)

    def global_batch(self, epoch: int, position: int) -> list[int]:
        seq = np.random.SeedSequence([self.seed % 2**63, epoch, position, _SALT_PAIRED])
        rng = np.random.default_rng(seq)
        rgb: list[int] = []
        ir: list[int] = []
        for pid in rng.choice(self.pids, self.num_ids, replace=False).tolist():
            rgb += rng.choice(self._rgb[pid], self.num_pos).tolist()
            ir += rng.choice(self._ir[pid], self.num_pos).tolist()
        return rgb + ir

    def _share(self, batch: list[int]) -> list[int]:
        half = len(batch) // 2
        per = half // self.world_size
        lo, hi = self.rank * per, (self.rank + 1) * per
        return batch[lo:hi] + batch[half + lo:half + hi]
