"""Training data streams whose batches and augmentations are a pure function of the position.

A :class:`Stream` wraps a :mod:`reid_data.samplers` batch sampler (the global batch at
``(epoch, position)`` is the same on any world size; each rank loads its share) and gives every
image of a global batch its own augmentation seed derived from ``(stream seed, epoch, position,
slot)``. So a resumed run, or a run on another number of processes, sees exactly the same
augmented images, whatever the DataLoader workers did before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (stable across processes and Python versions)."""
    seq = np.random.SeedSequence([int(p) % 2**63 for p in parts])
    return int(seq.generate_state(2, np.uint32).astype(np.uint64).dot([1, 2**31]))


class _Seeded(Dataset):
    """``dataset[i]`` computed under a fresh torch generator state seeded for that item."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        # fork_rng keeps the caller's generator untouched (workers=0 runs in the main process)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[index]


class _SeededBatches:
    """Turns a batch sampler's index lists into ``(index, seed)`` lists."""

    def __init__(self, sampler: Any, seed: int) -> None:
        self.sampler = sampler
        self.seed = seed

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        s = self.sampler
        per = s.batch_size // s.world_size
        for share in s:
            position = s.position - 1  # the sampler counts the batch it just handed out
            first = s.rank * per
            yield [
                (int(i), derive_seed(self.seed, s.epoch, position, first + j))
                for j, i in enumerate(share)
            ]


class Stream:
    """An endless stream of batches of one dataset for one training stage.

    ``start(epoch, position)`` (re)positions it; ``next()`` returns the collated local share of
    the next global batch. Built by :meth:`reid_runner.StageContext.stream`.
    """

    def __init__(self, name: str, dataset: Any, sampler: Any, seed: int, workers: int,
                 pin_memory: bool = False) -> None:
        self.name = name
        self.dataset = dataset
        self.sampler = sampler
        self.seed = seed
        self.workers = workers
        self.pin_memory = pin_memory
        self._iter: Iterator[Any] | None = None
        self.epoch = 0
        self.position = 0

    @property
    def local_batch_size(self) -> int:
        return self.sampler.batch_size // self.sampler.world_size

    def start(self, epoch: int, position: int = 0) -> None:
        self.epoch, self.position = epoch, position
        self.sampler.set_epoch(epoch, position)
        self._iter = None

    def _loader(self) -> Iterator[Any]:
        # A private generator: creating a DataLoader iterator draws a base seed, which must not
        # come from the global generator (a resumed run creates its iterator at another point).
        gen = torch.Generator()
        gen.manual_seed(derive_seed(self.seed, self.epoch, self.sampler.position) % 2**63)
        loader = DataLoader(
            _Seeded(self.dataset),
            batch_sampler=_SeededBatches(self.sampler, self.seed),
            num_workers=self.workers,
            pin_memory=self.pin_memory,
            persistent_workers=False,
            generator=gen,
        )
        return iter(loader)

    def next(self) -> Any:
        if self._iter is None:
            self._iter = self._loader()
        try:
            batch = next(self._iter)
        except StopIteration:  # the sampler's epoch length was reached: keep streaming
            self.sampler.set_epoch(self.epoch, self.sampler.position)
            self._iter = self._loader()
            batch = next(self._iter)
        self.position += 1
        return batch

    def close(self) -> None:
        self._iter = None
