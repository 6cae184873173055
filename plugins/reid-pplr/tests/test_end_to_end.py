"""PPLR through ``reid_runner.execute`` on tiny synthetic data (resnet18part at 32x16,
2 epochs x 2 iterations, CPU): telemetry, the scores file, resume state, exported model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def target_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reid_data.synth import synthesize

    return Path(synthesize(tmp_path_factory.mktemp("synth") / "tgt", style="target", ids=12,
                           cameras=3, images_per_camera=2, image_size=(32, 16), seed=2))


def _config(tmp: Path, root: Path, **stage: Any) -> dict[str, Any]:
    return {
        "run": {"name": "pplr", "out_dir": str(tmp / "runs"), "device": "cpu", "log_every": 1,
                "progress": False, "plugins": ["pplr"]},
        "data": {"target": "market1501", "target_root": str(root), "height": 32, "width": 16,
                 "batch_size": 8, "num_instances": 2, "test_batch_size": 64, "workers": 0},
        "model": {"arch": "resnet18", "pretrained": False},
        # 26 training images: a small Jaccard neighbourhood and radius so DBSCAN finds clusters
        "stages": {"pplr": {"method": "pplr", "epochs": 2, "iters": 2, "eps": 0.3, "k1": 8, "min_samples": 2,
                            "k": 5, "aals_epoch": 1, "eval_every": 1, **stage}},
    }


def _records(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == kind]


@pytest.mark.slow
def test_pplr_cam_end_to_end(tmp_path: Path, target_root: Path) -> None:
    from reid_runner import execute

    summary = execute(_config(tmp_path, target_root, camera_aware=True))
    run_dir = tmp_path / "runs" / "pplr"
    stage_dir = run_dir / "stages" / "pplr"
    metrics = summary["stages"]["pplr"]["metrics"]
    assert 0.0 <= metrics["target/test"]["model"]["mAP"] <= 1.0

    # per-epoch telemetry: cluster statistics plus the mean cross-agreement per part
    tel = _records(run_dir, "pseudo_labels")
    assert [r["epoch"] for r in tel] == [0, 1]
    for r in tel:
        assert r["num_clusters"] >= 2
        parts = [r[f"agreement_part{p}"] for p in range(3)]
        assert all(0.0 <= a <= 1.0 for a in parts)
        assert r["agreement_mean"] == pytest.approx(np.mean(parts), abs=1e-6)
    assert "agreement_part0=" in (run_dir / "log.txt").read_text()

    # every iteration logs the loss terms, including the camera term
    train = _records(run_dir, "train")
    assert len(train) == 4 and all({"gce", "pce", "triplet", "cam"} <= set(r) for r in train)

    # scores.npy: (epochs, N, P) of all images, before outlier removal; its epoch means are
    # the telemetry
    scores = np.load(stage_dir / "scores.npy")
    assert scores.shape == (2, 26, 3) and scores.dtype == np.float32
    for e, r in enumerate(tel):
        assert scores[e].mean(0) == pytest.approx([r[f"agreement_part{p}"] for p in range(3)],
                                                  abs=1e-6)

    # resume state: labels, scores of the current epoch, camera proxies
    ck = torch.load(stage_dir / "checkpoint.pt", weights_only=True)
    st = ck["method"]
    assert st["labels"].shape == (26,) and st["num_clusters"] == tel[-1]["num_clusters"]
    assert torch.allclose(st["scores"], torch.from_numpy(scores[-1]))
    px = st["proxies"]
    assert px["proxies"].shape[0] == 4 and px["proxies"].shape[1] == len(px["labels"])
    from reid_pplr.method import PPLR, PPLRConfig

    m = PPLR(PPLRConfig(method="pplr", camera_aware=True))
    m.load_state_dict(st)
    assert m.state_dict()["num_clusters"] == st["num_clusters"]
    assert torch.equal(m.state_dict()["proxies"]["proxies"], px["proxies"])
    assert ck["meta"]["arch"] == "resnet18part" and ck["meta"]["camera_aware"] is True

    # the exported model evaluates with the runner's evaluate method (arch from the file)
    from reid_runner.engine import read_model_artifact

    meta, nets = read_model_artifact(stage_dir / "model.pt")
    assert meta["arch"] == "resnet18part" and "part_bn.0.weight" in nets["model"]


@pytest.mark.slow
def test_pplr_from_a_plain_resnet18_file(tmp_path: Path, target_root: Path) -> None:
    """The demo's path: a plain ``resnet18`` model file as ``init``, the stage builds
    ``resnet18part`` from ``model.arch: resnet18``; then the runner's ``evaluate`` reads it."""
    from reid_models import create_model
    from reid_runner import execute

    torch.manual_seed(0)
    init = tmp_path / "resnet18.pt"
    torch.save({"format": "reid-model/1", "meta": {"arch": "resnet18"},
                "nets": {"model": create_model("resnet18", num_classes=4).state_dict()}}, init)
    cfg = _config(tmp_path, target_root, inputs={"init": str(init)}, eval_every=0)
    cfg["stages"]["test"] = {"method": "evaluate", "inputs": {"model": "pplr.model"}}
    summary = execute(cfg)
    a = summary["stages"]["pplr"]["metrics"]["target/test"]["model"]["mAP"]
    b = summary["stages"]["test"]["metrics"]["target/test"]
    assert next(iter(b.values()))["mAP"] == pytest.approx(a, abs=1e-6)
    log = (tmp_path / "runs" / "pplr" / "log.txt").read_text()
    assert "initialised resnet18part from" in log
