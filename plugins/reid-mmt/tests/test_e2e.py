"""MMT and the baseline end to end through the runner on tiny synthetic data."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from reid_runner import execute
from reid_runner.cli import main

pytestmark = pytest.mark.slow


def _records(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    p = run_dir / "metrics.jsonl"
    out = []
    for line in p.read_text().splitlines() if p.exists() else []:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # a line being written
            continue
        if rec["kind"] == kind:
            out.append(rec)
    return out


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
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ref = copy.deepcopy(raw)
        ref["run"]["name"] = "ref"
        execute(ref)

        raw["run"]["name"] = "killed"
        cfg = tmp_path / "killed.yaml"
        cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
        run_dir = tmp_path / "runs" / "killed"
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "reid_runner", "train", str(cfg)],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 600
        # kill in the middle of MMT's second epoch (after its re-clustering)
        while not any(r["stage"] == "mmt" and (r["epoch"], r["iteration"]) == (1, 1)
                      for r in _records(run_dir, "train")):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.time() < deadline, "the run did not reach MMT epoch 1 in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = torch.load(run_dir / "stages/mmt/checkpoint.pt", weights_only=True)
        assert state["epoch"] == 1 and state["iteration"] in (1, 2)
        assert main(["resume", str(run_dir)]) == 0
    finally:
        torch.set_num_threads(threads)

    ref_dir = tmp_path / "runs" / "ref"
    for stage_file in ("stages/mmt/model.pt",):
        a = torch.load(ref_dir / stage_file, weights_only=True)["nets"]
        b = torch.load(run_dir / stage_file, weights_only=True)["nets"]
        for net in a:
            for k in a[net]:
                assert torch.equal(a[net][k], b[net][k]), (net, k)
    m_ref = json.loads((ref_dir / "stages/mmt/done.json").read_text())["metrics"]
    m_res = json.loads((run_dir / "stages/mmt/done.json").read_text())["metrics"]
    for key in ("mAP", "rank1", "rank5", "mINP"):
        assert m_ref["target/test"]["ema1"][key] == m_res["target/test"]["ema1"][key], key
    # pseudo labels of epoch 1 were restored, not recomputed differently
    lab_ref = [r for r in _records(ref_dir, "pseudo_labels") if r["stage"] == "mmt"]
    lab_res = [r for r in _records(run_dir, "pseudo_labels") if r["stage"] == "mmt"]
    assert lab_ref[-1]["num_clusters"] == lab_res[-1]["num_clusters"]


@pytest.mark.distributed
def test_mmt_two_processes_equal_one(tmp_path: Path, run_config: dict[str, Any]) -> None:
    raw = copy.deepcopy(run_config)
    raw["data"]["bn_batch"] = 4  # 2 BN groups in one process, one per rank in two
    raw["run"]["name"] = "one"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        execute(raw)
    finally:
        torch.set_num_threads(threads)
    raw2 = copy.deepcopy(raw)
    raw2["run"]["name"] = "two"
    cfg = tmp_path / "two.yaml"
    cfg.write_text(yaml.safe_dump(raw2, sort_keys=False))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "reid_runner", "train", str(cfg), "--gpus", "2"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    one, two = tmp_path / "runs" / "one", tmp_path / "runs" / "two"
    assert "2 process(es)" in (two / "log.txt").read_text()
    l1 = [r for r in _records(one, "train") if r["stage"] == "mmt"]
    l2 = [r for r in _records(two, "train") if r["stage"] == "mmt"]
    assert len(l1) == len(l2) == 4
    for a, b in zip(l1, l2):
        for key in ("loss", "ce", "triplet", "soft_ce", "soft_triplet"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), (key, a, b)
    p1 = [r["num_clusters"] for r in _records(one, "pseudo_labels")]
    p2 = [r["num_clusters"] for r in _records(two, "pseudo_labels")]
    assert p1 == p2
    m1 = json.loads((one / "stages/mmt/done.json").read_text())["metrics"]["target/test"]
    m2 = json.loads((two / "stages/mmt/done.json").read_text())["metrics"]["target/test"]
    assert m1["ema1"]["mAP"] == pytest.approx(m2["ema1"]["mAP"], abs=1e-4)
