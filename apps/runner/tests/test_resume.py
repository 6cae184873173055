"""A CPU run killed with SIGKILL mid-epoch resumes to the same weights and metrics."""

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


def _train_records(run_dir: Path) -> list[tuple[int, int]]:
    p = run_dir / "metrics.jsonl"
    if not p.exists():
        return []
    out = []
    for line in p.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # a line being written
            continue
        if rec["kind"] == "train":
            out.append((rec["epoch"], rec["iteration"]))
    return out


def test_sigkill_mid_epoch_then_resume(tmp_path: Path, config: dict[str, Any]) -> None:
    raw = copy.deepcopy(config)
    raw["run"]["checkpoint_every"] = 1
    raw["stages"]["pretrain"].update(iters=3, random_erasing=0.5)
    raw["model"]["options"] = {"dropout": 0.5}  # RNG inside the network too
    raw["stages"]["eval"] = {"method": "evaluate", "inputs": {"model": "pretrain.model"},
                             "eval_on": ["target"]}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # the uninterrupted reference
        ref = copy.deepcopy(raw)
        ref["run"]["name"] = "ref"
        execute(ref)

        # the same run in a subprocess, killed once a mid-epoch-1 checkpoint exists
        raw["run"]["name"] = "killed"
        cfg = tmp_path / "killed.yaml"
        cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
        run_dir = tmp_path / "runs" / "killed"
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "reid_runner", "train", str(cfg)],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 400
        while (1, 1) not in _train_records(run_dir):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.time() < deadline, "the run did not reach epoch 1 in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = torch.load(run_dir / "stages/pretrain/checkpoint.pt", weights_only=True)
        assert state["epoch"] == 1 and state["iteration"] in (1, 2), state["iteration"]  # mid-epoch
        assert not (run_dir / "stages/pretrain/done.json").exists()

        # without --resume the unfinished stage is refused; `reid resume` continues it
        assert main(["train", str(cfg)]) == 2
        assert main(["resume", str(run_dir)]) == 0
    finally:
        torch.set_num_threads(threads)

    ref_dir = tmp_path / "runs" / "ref"
    w_ref = torch.load(ref_dir / "stages/pretrain/model.pt", weights_only=True)["nets"]["model"]
    w_res = torch.load(run_dir / "stages/pretrain/model.pt", weights_only=True)["nets"]["model"]
    for k in w_ref:
        assert torch.equal(w_ref[k], w_res[k]), k
    for stage in ("pretrain", "eval"):
        m_ref = json.loads((ref_dir / f"stages/{stage}/done.json").read_text())["metrics"]
        m_res = json.loads((run_dir / f"stages/{stage}/done.json").read_text())["metrics"]
        for dset, per in m_ref.items():
            for net, m in per.items():
                for key in ("mAP", "rank1", "rank5", "mINP"):
                    assert m[key] == m_res[dset][net][key], (stage, dset, net, key)
    # the losses after the resume point are the uninterrupted run's
    ref_losses = {(r["epoch"], r["iteration"]): r["loss"] for r in map(
        json.loads, (ref_dir / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "train"}
    res_losses = {(r["epoch"], r["iteration"]): r["loss"] for r in map(
        json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "train"}
    assert res_losses[(1, 2)] == ref_losses[(1, 2)]
