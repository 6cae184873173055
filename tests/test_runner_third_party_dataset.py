"""A third-party distribution registers a dataset through ``reid_register_datasets``; ``reid
plugins --json`` lists it and a run (pre-training + evaluation) uses it by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from reid_plugin.testing import build_wheel, install_wheel

pytestmark = pytest.mark.slow

HOOKS = '''
from reid_plugin import hookimpl


@hookimpl
def reid_register_datasets():
    from reid_toyset.dataset import ToySet

    return [ToySet]
'''

DATASET = '''
from reid_data import Layout, MarketStyleDataset


class ToySet(MarketStyleDataset):
    """Market-style file names under ``ToySet/{train,query,gallery}``; cameras 1-based."""

    name = "toyset"
    keys = ("toyset",)
    layouts = (Layout("ToySet", ("ToySet",), ("train", "query", "gallery")),)
    train_dir, query_dir, gallery_dir = "train", "query", "gallery"

    @classmethod
    def camera(cls):
        return lambda cam: cam - 1
'''


def _images(root: Path) -> None:
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 255, size=(20, 3))
    for split, pids, n in (("train", range(1, 7), 2), ("gallery", range(7, 11), 2),
                           ("query", range(7, 11), 1)):
        d = root / "ToySet" / split
        d.mkdir(parents=True)
        for pid in pids:
            for cam in (1, 2):
                for k in range(n):
                    a = np.clip(colours[pid] + rng.normal(0, 40, (32, 16, 3)), 0, 255)
                    Image.fromarray(a.astype(np.uint8)).save(
                        d / f"{pid:04d}_c{cam}s1_{100 * cam + k:06d}_00.jpg")


def test_third_party_dataset_in_a_run(tmp_path: Path) -> None:
    proj = tmp_path / "src" / "reid-toyset"
    (proj / "src" / "reid_toyset").mkdir(parents=True)
    (proj / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "reid-toyset"
        version = "0.3.0"
        dependencies = ["reid-data"]
        [project.entry-points.reid]
        toyset = "reid_toyset.hooks"
        [tool.hatch.build.targets.wheel]
        packages = ["src/reid_toyset"]
        """))
    pkg = proj / "src" / "reid_toyset"
    (pkg / "__init__.py").write_text("")
    (pkg / "hooks.py").write_text(HOOKS)
    (pkg / "dataset.py").write_text(DATASET)
    site = tmp_path / "site"
    install_wheel(build_wheel(proj, tmp_path / "dist"), site)
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    res = subprocess.run([sys.executable, "-m", "reid_runner", "plugins", "--json"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    infos = {p["name"]: p for p in json.loads(res.stdout)["plugins"]}
    assert infos["toyset"]["distribution"] == "reid-toyset"
    assert infos["toyset"]["version"] == "0.3.0"
    assert infos["toyset"]["hooks"] == ["reid_register_datasets"]

    _images(tmp_path / "data")
    cfg = {
        "run": {"name": "toy", "out_dir": str(tmp_path / "runs"), "device": "cpu",
                "plugins": ["toyset"], "progress": False},
        "data": {"root": str(tmp_path / "data"), "source": "toyset", "height": 32, "width": 16,
                 "batch_size": 8, "num_instances": 2, "workers": 0},
        "model": {"arch": "resnet18", "pretrained": False},
        "stages": {
            "pretrain": {"method": "pretrain", "epochs": 1, "iters": 2, "warmup_epochs": 1,
                         "eval_on": []},
            "evaluate": {"method": "evaluate", "inputs": {"model": "pretrain.model"},
                         "eval_on": ["toyset"]},
        },
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = subprocess.run([sys.executable, "-m", "reid_runner", "train", str(path)],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-4000:]
    run_dir = tmp_path / "runs" / "toy"
    done = json.loads((run_dir / "stages" / "evaluate" / "done.json").read_text())
    assert 0.0 <= done["metrics"]["toyset/test"]["model"]["mAP"] <= 1.0
    versions = json.loads((run_dir / "plugins.json").read_text())
    assert versions["plugins"]["toyset"] == {"distribution": "reid-toyset", "version": "0.3.0"}
    # without the plugin the dataset is unknown, and the error lists the choices
    cfg["run"]["plugins"] = []
    cfg["run"]["name"] = "toy2"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = subprocess.run([sys.executable, "-m", "reid_runner", "train", str(path)],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert res.returncode == 2
    assert "Unknown dataset 'toyset'" in res.stderr and "market1501" in res.stderr
