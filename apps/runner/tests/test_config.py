from __future__ import annotations

from pathlib import Path

import pytest

from reid_runner.config import ConfigError, MethodConfig, apply_overrides, build_config
from reid_runner.methods import PretrainConfig
from reid_runner.run import raw_config

METHODS = {"pretrain": PretrainConfig, "plain": MethodConfig}


def test_overrides_and_merge(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text("data: {height: 64, width: 32}\nstages: {p: {method: pretrain, lr: 0.1}}\n")
    b = tmp_path / "b.yaml"
    b.write_text("data: {height: 128}\n")
    raw = raw_config([a, b], ["stages.p.milestones=[2, 3]", "run.plugins=mmt",
                              "stages.p.lr=3.5e-4"])
    cfg = build_config(raw, METHODS)
    assert (cfg.data.height, cfg.data.width) == (128, 32)
    p = cfg.stages["p"]
    assert isinstance(p, PretrainConfig) and p.milestones == [2, 3] and p.lr == 3.5e-4
    assert p.epochs == 80  # the method's own default
    assert cfg.run.plugins == ["mmt"]
    assert "milestones" in cfg.to_yaml()


def test_stage_order_is_kept() -> None:
    raw = {"stages": {"b": {"method": "plain"}, "a": {"method": "pretrain"}}}
    assert list(build_config(raw, METHODS).stages) == ["b", "a"]


@pytest.mark.parametrize(("override", "message"), [
    ("data.widht=3", "Did you mean 'width'"),
    ("run.amp=fp32", "none, bf16, fp16"),
    ("data.num_instances=3", "must divide batch_size"),
    ("data.bn_batch=5", "must divide batch_size"),
    ("stages.p.select=best", "'last' or 'val'"),
    ("stages.p.milestones=[5, 2]", "increasing"),
    ("run.seed=1.5", "run.seed: expected an integer"),
    ("run.threads=-1", "run.threads: -1 must be >= 0"),
    ("data=3", "data: expected a mapping"),
])
def test_invalid(override: str, message: str) -> None:
    raw = apply_overrides({"stages": {"p": {"method": "pretrain"}}}, [override])
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        build_config(raw, METHODS)


def test_no_stage_and_bad_override() -> None:
    with pytest.raises(ConfigError, match="at least one stage"):
        build_config({}, METHODS)
    with pytest.raises(ConfigError, match=r"dotted\.key=value"):
        apply_overrides({}, ["novalue"])
    with pytest.raises(ConfigError, match="missing; choices: plain, pretrain"):
        build_config({"stages": {"x": {"epochs": 1}}}, METHODS)
