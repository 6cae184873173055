"""``pretrain`` in 2 gloo processes equals a 1-process run with the same global and BN batch.

Tolerance: losses and final weights within 1e-5, final metrics within 1e-6. With the same thread
count (1 per process) the runs are in fact bitwise identical on CPU: each BN group is computed on
the same 4 images, the loss on the same gathered batch, gradients are summed the same way
(a + b, exact scalings by 2) and BN statistics are averaged in float64 in both cases.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from reid_data import IdentityBatchSampler, create_dataset
from reid_runner.testing import assert_two_processes_equal_one, read_records

pytestmark = [pytest.mark.slow, pytest.mark.distributed]


def test_global_batches_do_not_depend_on_world_size(data_roots: dict[str, Path]) -> None:
    train = create_dataset("market1501", data_roots["source"]).train
    one = IdentityBatchSampler(train, 8, 2, seed=5, rank=0, world_size=1, batches_per_epoch=3)
    two = [IdentityBatchSampler(train, 8, 2, seed=5, rank=r, world_size=2, batches_per_epoch=3)
           for r in range(2)]
    for epoch in (0, 1):
        for s in (one, *two):
            s.set_epoch(epoch)
        assert list(one) == [a + b for a, b in zip(*two)]


def test_two_processes_equal_one(tmp_path: Path, config: dict[str, Any]) -> None:
    raw = copy.deepcopy(config)
    raw["data"]["bn_batch"] = 4  # 2 BN groups of 4 in one process, 1 group per rank in two
    one, _ = assert_two_processes_equal_one(
        raw, tmp_path, stage="pretrain", loss_keys=("loss", "ce", "triplet", "accuracy"),
        loss_tol=(1e-5, 1e-6), weight_tol=1e-5, metric_tol=1e-6)
    assert len(read_records(one, "train")) == 4  # 2 epochs x 2 iterations
