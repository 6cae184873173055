"""MMT and the baseline end to end through the runner on tiny synthetic data."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

from reid_runner import execute
from reid_runner.testing import (
    assert_resumes_exactly_after_sigkill,
    assert_two_processes_equal_one,
    read_records,
)

pytestmark = pytest.mark.slow


def _records(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    return read_records(run_dir, kind)


def test_mmt_and_dbscan_baseline_run(tmp_path: Path, run_config: dict[str, Any]) -> None:
    raw = run_config
    raw["stages"]["baseline"] = {"method": "cluster-baseline", "inputs": {"init": "pretrain1.model"},
                                 "epochs": 2, "iters": 2, "clustering": "dbscan", "eps": "auto",
                                 "rho": 0.3, "min_samples": 2,  # tiny data: 30 images
                                 "eval_on": ["target"]}
    summary = execute(raw)
    run_dir = tmp_path / "runs" / "r"
    labels = _records(run_dir, "pseudo_labels")
    by_stage = {(r["stage"], r["epoch"]) for r in labels}
    assert by_stage == {("mmt", 0), ("mmt", 1), ("baseline", 0), ("baseline", 1)}
    mmt0 = next(r for r in labels if r["stage"] == "mmt" and r["epoch"] == 0)
    assert mmt0["num_clusters"] == 4 and mmt0["num_outliers"] == 0  # k-means labels every image
    assert 0.0 <= mmt0["nmi"] <= 1.0  # ground truth known for synthetic data (telemetry only)
    mmt1 = next(r for r in labels if r["stage"] == "mmt" and r["epoch"] == 1)
    assert "churn" in mmt1
    base0 = next(r for r in labels if r["stage"] == "baseline" and r["epoch"] == 0)
    assert base0["eps"] > 0  # MMT's epoch-0 heuristic chose a radius...
    base1 = next(r for r in labels if r["stage"] == "baseline" and r["epoch"] == 1)
    assert base1["eps"] == base0["eps"]  # ...kept for the run
    losses = [r for r in _records(run_dir, "train") if r["stage"] == "mmt"]
    assert len(losses) == 4 and all(set(r) >= {"ce", "triplet", "soft_ce", "soft_triplet"}
                                    for r in losses)
    final = summary["stages"]["mmt"]["metrics"]["target/test"]
    assert set(final) == {"ema1"} and 0.0 <= final["ema1"]["mAP"] <= 1.0
    model = torch.load(run_dir / "stages/mmt/model.pt", weights_only=True)
    assert set(model["nets"]) == {"ema1"}
    assert model["meta"]["method"] == "mmt"


def test_mmt_resumes_exactly_after_sigkill(tmp_path: Path, run_config: dict[str, Any]) -> None:
    raw = copy.deepcopy(run_config)
    raw["run"]["checkpoint_every"] = 1
    raw["stages"]["mmt"]["iters"] = 3
    # killed in the middle of MMT's second epoch (after its re-clustering): weights, metrics and
    # losses bitwise; the pseudo labels of epoch 1 restored, not recomputed differently
    _, run_dir = assert_resumes_exactly_after_sigkill(raw, tmp_path, stage="mmt", kill_at=(1, 1))
    labels = [r for r in read_records(run_dir, "pseudo_labels") if r["stage"] == "mmt"]
    assert [r["epoch"] for r in labels] == [0, 1]  # epoch 1 was labelled once, before the kill


@pytest.mark.distributed
def test_mmt_two_processes_equal_one(tmp_path: Path, run_config: dict[str, Any]) -> None:
    raw = copy.deepcopy(run_config)
    raw["data"]["bn_batch"] = 4  # 2 BN groups in one process, one per rank in two
    one, _ = assert_two_processes_equal_one(
        raw, tmp_path, stage="mmt", loss_keys=("loss", "ce", "triplet", "soft_ce", "soft_triplet"),
        loss_tol=(1e-4, 1e-5), weight_tol=1e-4, metric_tol=1e-4)
    assert len([r for r in read_records(one, "train") if r["stage"] == "mmt"]) == 4
    assert len(read_records(one, "pseudo_labels")) == 2  # MMT's 2 epochs, compared above
