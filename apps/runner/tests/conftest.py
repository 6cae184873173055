from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _synthetic import write_market


@pytest.fixture(scope="session")
def data_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny Market-style source and target datasets (written once per session)."""
    base = tmp_path_factory.mktemp("data")
    return {"source": write_market(base / "src", seed=0),
            "target": write_market(base / "tgt", seed=1)}


def base_config(tmp: Path, roots: dict[str, Path], name: str = "r") -> dict[str, Any]:
    """A small CPU run: resnet18 at 32x16, batch 8 (4 ids x 2), 2 epochs x 2 iterations."""
    return {
        "run": {"name": name, "out_dir": str(tmp / "runs"), "device": "cpu", "log_every": 1,
                "progress": False},
        "data": {"source": "market1501", "target": "market1501",
                 "source_root": str(roots["source"]), "target_root": str(roots["target"]),
                 "height": 32, "width": 16, "batch_size": 8, "num_instances": 2,
                 "test_batch_size": 64, "workers": 0},
        "model": {"arch": "resnet18", "pretrained": False},
        "stages": {"pretrain": {"method": "pretrain", "epochs": 2, "iters": 2,
                                "warmup_epochs": 1, "eval_on": ["target"]}},
    }


@pytest.fixture
def config(tmp_path: Path, data_roots: dict[str, Path]) -> dict[str, Any]:
    return copy.deepcopy(base_config(tmp_path, data_roots))


def run_cli(args: list[str], cwd: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "reid_runner", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, **kw)
