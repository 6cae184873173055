"""Bad input fails in preflight with an error that names the key, file or plugin."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from reid_plugin.testing import build_wheel, install_wheel
from reid_runner import checkpoint
from reid_runner.cli import main


def _write(tmp: Path, raw: dict[str, Any]) -> Path:
    p = tmp / "cfg.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


def _err(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    assert main(args) == 2
    return capsys.readouterr().err


def test_config_typo_suggests_closest_key(tmp_path: Path, config: dict[str, Any],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write(tmp_path, config)
    err = _err(capsys, ["train", str(cfg), "data.heigth=32"])
    assert "unknown config key data.heigth" in err and "Did you mean 'height'" in err
    err = _err(capsys, ["train", str(cfg), "stages.pretrain.wieght_decay=0.1"])
    assert "stages.pretrain.wieght_decay" in err and "'weight_decay'" in err
    err = _err(capsys, ["train", str(cfg), "stages.pretrain.method=pretrian"])
    assert "unknown method 'pretrian'" in err and "'pretrain'" in err
    err = _err(capsys, ["train", str(cfg), "data.batch_size=abc"])
    assert "data.batch_size: expected an integer" in err
    err = _err(capsys, ["train", str(cfg), "dta.root=x"])
    assert "unknown config section 'dta'" in err and "'data'" in err


def test_missing_dataset_names_the_folder(tmp_path: Path, config: dict[str, Any],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write(tmp_path, config)
    err = _err(capsys, ["train", str(cfg), f"data.source_root={tmp_path / 'nowhere'}"])
    assert "market1501" in err and "nowhere" in err and "Market-1501-v15.09.15" in err
    assert not (tmp_path / "runs" / "r" / "stages").exists()  # failed before any stage ran


def test_missing_checkpoint(tmp_path: Path, config: dict[str, Any],
                            capsys: pytest.CaptureFixture[str]) -> None:
    raw = copy.deepcopy(config)
    raw["stages"] = {"eval": {"method": "evaluate", "inputs": {"model": str(tmp_path / "no.pt")}}}
    err = _err(capsys, ["train", str(_write(tmp_path, raw))])
    assert "stages.eval.inputs.model" in err and "no.pt" in err and "missing checkpoint" in err
    err = _err(capsys, ["eval", str(tmp_path / "gone.pt"), "-d", "market1501"])
    assert "gone.pt does not exist" in err
    raw["stages"]["eval"]["inputs"]["model"] = "pretrain.model"
    err = _err(capsys, ["train", str(_write(tmp_path, raw))])
    assert "pretrain.model" in err


def test_checkpoint_of_another_method_or_arch(tmp_path: Path, config: dict[str, Any],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write(tmp_path, config)
    ck = tmp_path / "runs" / "r" / "stages" / "pretrain" / "checkpoint.pt"
    checkpoint.atomic_save({"format": checkpoint.TRAIN_FORMAT,
                            "meta": {"method": "mmt", "arch": "resnet50"}}, ck)
    err = _err(capsys, ["train", str(cfg)])
    assert "unfinished checkpoint" in err and "--resume" in err
    err = _err(capsys, ["train", str(cfg), "--resume"])
    assert "another method or architecture" in err and "'mmt'" in err and "'resnet50'" in err
    # a model file of another architecture
    from reid_runner import load_network
    from reid_runner.engine import save_model_artifact  # noqa: F401

    torch.save({"format": checkpoint.MODEL_FORMAT, "meta": {"arch": "resnet50"},
                "nets": {"model": {}}}, tmp_path / "m.pt")
    net = torch.nn.Linear(2, 2)
    net.arch = "resnet18"  # type: ignore[attr-defined]
    with pytest.raises(checkpoint.CheckpointError, match="'resnet50' network"):
        load_network(net, tmp_path / "m.pt")


def test_checkpoint_loads_weights_only(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> Any:
            return (os.system, ("echo pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(checkpoint.CheckpointError, match="weights_only"):
        checkpoint.load(tmp_path / "evil.pt")


def test_plugin_that_fails_to_import(tmp_path: Path, config: dict[str, Any]) -> None:
    proj = tmp_path / "src" / "reid-broken"
    (proj / "src" / "reid_broken").mkdir(parents=True)
    (proj / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "reid-broken"
        version = "0.0.1"
        [project.entry-points.reid]
        broken = "reid_broken.hooks"
        [tool.hatch.build.targets.wheel]
        packages = ["src/reid_broken"]
        """))
    (proj / "src" / "reid_broken" / "__init__.py").write_text("")
    (proj / "src" / "reid_broken" / "hooks.py").write_text("import reid_missing_dependency\n")
    site = tmp_path / "site"
    install_wheel(build_wheel(proj, tmp_path / "dist"), site)
    raw = copy.deepcopy(config)
    raw["run"]["plugins"] = ["broken"]
    cfg = _write(tmp_path, raw)
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    res = subprocess.run([sys.executable, "-m", "reid_runner", "train", str(cfg)], env=env,
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert 'Error importing plugin "broken"' in res.stderr
    assert "reid_missing_dependency" in res.stderr
    # an unknown plugin name lists the installed ones
    assert main(["train", str(cfg), "run.plugins=[nosuch]"]) == 2
