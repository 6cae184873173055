"""``pretrain`` in 2 gloo processes equals a 1-process run with the same global and BN batch.

Tolerance: losses and final weights within 1e-5, final metrics within 1e-6. With the same thread
count (1 per process) the runs are in fact bitwise identical on CPU: each BN group is computed on
the same 4 images, the loss on the same gathered batch, gradients are summed the same way
(a + b, exact scalings by 2) and BN statistics are averaged in float64 in both cases.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from conftest import run_cli

from reid_data import IdentityBatchSampler, create_dataset
from reid_runner import execute

pytestmark = [pytest.mark.slow, pytest.mark.distributed]


def _losses(run_dir: Path) -> list[dict[str, Any]]:
    out = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["kind"] == "train":
            out.append(rec)
    return out


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
    raw["run"]["name"] = "one"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in each torchrun worker (OMP_NUM_THREADS=1)
    try:
        execute(raw)
    finally:
        torch.set_num_threads(threads)
    raw2 = copy.deepcopy(raw)
    raw2["run"]["name"] = "two"
    cfg = tmp_path / "two.yaml"
    cfg.write_text(yaml.safe_dump(raw2, sort_keys=False))
    res = run_cli(["train", str(cfg), "--gpus", "2"], cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    one_dir, two_dir = tmp_path / "runs" / "one", tmp_path / "runs" / "two"
    assert "2 process(es)" in (two_dir / "log.txt").read_text()

    l1, l2 = _losses(one_dir), _losses(two_dir)
    assert [(r["epoch"], r["iteration"]) for r in l1] == [(r["epoch"], r["iteration"]) for r in l2]
    assert len(l1) == 4
    for a, b in zip(l1, l2):
        for key in ("loss", "ce", "triplet", "accuracy"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), (key, a, b)

    w1 = torch.load(one_dir / "stages/pretrain/model.pt", weights_only=True)["nets"]["model"]
    w2 = torch.load(two_dir / "stages/pretrain/model.pt", weights_only=True)["nets"]["model"]
    assert w1.keys() == w2.keys()
    for k in w1:
        if w1[k].is_floating_point():
            torch.testing.assert_close(w1[k], w2[k], rtol=1e-5, atol=1e-5, msg=k)
        else:
            assert torch.equal(w1[k], w2[k]), k

    m1 = json.loads((one_dir / "stages/pretrain/done.json").read_text())["metrics"]
    m2 = json.loads((two_dir / "stages/pretrain/done.json").read_text())["metrics"]
    for key in ("mAP", "rank1", "rank5", "mINP"):
        assert m1["target/test"]["model"][key] == pytest.approx(
            m2["target/test"]["model"][key], abs=1e-6)
