from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def synth_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny synthetic source and target datasets (the built-in generator), once per session."""
    from reid_data.synth import synthesize

    base = tmp_path_factory.mktemp("synth")
    common = dict(ids=12, cameras=3, images_per_camera=2, image_size=(32, 16), workers=1)
    return {"source": Path(synthesize(base / "src", style="source", seed=0, **common)),
            "target": Path(synthesize(base / "tgt", style="target", seed=1, **common))}


def small_run(tmp: Path, roots: dict[str, Path], name: str = "r") -> dict[str, Any]:
    """Two 1-epoch pre-trainings and a 2-epoch MMT (k-means) at 32x16 with resnet18."""
    pre = {"method": "pretrain", "epochs": 1, "iters": 2, "warmup_epochs": 1, "milestones": [],
           "eval_on": ["target"]}
    return {
        "run": {"name": name, "out_dir": str(tmp / "runs"), "device": "cpu", "log_every": 1,
                "progress": False, "plugins": ["mmt"]},
        "data": {"source": "market1501", "target": "market1501",
                 "source_root": str(roots["source"]), "target_root": str(roots["target"]),
                 "height": 32, "width": 16, "batch_size": 8, "num_instances": 2,
                 "test_batch_size": 64, "workers": 0},
        "model": {"arch": "resnet18", "pretrained": False},
        "stages": {
            "pretrain1": {**pre, "seed": 1},
            "pretrain2": {**pre, "seed": 2},
            "mmt": {"method": "mmt", "inputs": {"init_1": "pretrain1.model",
                                                "init_2": "pretrain2.model"},
                    "epochs": 2, "iters": 2, "num_clusters": 4, "kmeans_backend": "torch",
                    "eval_on": ["target"]},
        },
    }


@pytest.fixture
def run_config(tmp_path: Path, synth_roots: dict[str, Path]) -> dict[str, Any]:
    return copy.deepcopy(small_run(tmp_path, synth_roots))
