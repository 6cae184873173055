"""``select: val``: the best validation epoch is kept and evaluated; the test split never counts.

The ``scripted`` method (``_toy.py``) fixes which stripe its network looks at after each epoch
(``alphas`` 0, 1, 0.5); ``write_stripes`` data put identities in the top stripe on validation and,
by choice, in the bottom or top stripe on test. Validation therefore prefers epoch 1 whatever the
test split says, while a test-based choice would move.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from _synthetic import write_stripes
from _toy import SelectionPlugin
from conftest import base_config

from reid_runner import ConfigError, execute


@pytest.fixture(scope="module")
def stripes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("stripes")
    return {kind: write_stripes(base / kind, test_identity=kind, seed=3)
            for kind in ("bottom", "top")}


def _config(tmp: Path, roots: dict[str, Path], target_root: Path, name: str,
            **stage: Any) -> dict[str, Any]:
    raw = copy.deepcopy(base_config(tmp, roots, name))
    raw["data"].update(target="stripes_val", target_root=str(target_root))
    raw["stages"] = {"s": {"method": "scripted", "epochs": 3, "iters": 1, "select": "val",
                           "eval_on": ["target"], **stage}}
    return raw


def _evals(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "eval"]


def test_select_val_keeps_and_evaluates_the_best_validation_epoch(
        tmp_path: Path, data_roots: dict[str, Path], stripes: dict[str, Path]) -> None:
    plugin = SelectionPlugin()
    summary = execute(_config(tmp_path, data_roots, stripes["bottom"], "val", eval_every=1),
                      plugins=[plugin])
    run_dir = tmp_path / "runs" / "val"
    stage_dir = run_dir / "stages" / "s"
    evals = _evals(run_dir)
    val = {r["epoch"]: r["mAP"] for r in evals if r["dataset"] == "target/val"}
    test = [(r["epoch"], r["mAP"]) for r in evals if r["dataset"] == "target/test"]
    assert sorted(val) == [0, 1, 2]
    best = max(val, key=val.get)  # type: ignore[arg-type]
    # the fixture works as designed: validation prefers epoch 1 (not the last), the test split
    # epoch 0 (a test-based choice would differ)
    assert best == 1 and val[1] > max(val[0], val[2])
    assert test[0][0] == 0 and test[1][0] == 1 and test[0][1] > test[1][1]

    selection = json.loads((stage_dir / "selection.json").read_text())
    assert selection == {"rule": "val", "dataset": "target/val", "epoch": 1, "model": "model",
                         "val_mAP": val[1]}
    assert summary["stages"]["s"]["selection"] == selection

    # best.pt holds epoch 1's network, and that network is the one exported and evaluated
    best_nets = torch.load(stage_dir / "best.pt", weights_only=True)["nets"]
    model_nets = torch.load(stage_dir / "model.pt", weights_only=True)["nets"]
    assert float(best_nets["model"]["alpha"]) == 1.0
    assert best_nets.keys() == model_nets.keys() == {"model"}
    for k, v in best_nets["model"].items():
        assert torch.equal(v, model_nets["model"][k]), k
    final = summary["stages"]["s"]["metrics"]["target/test"]["model"]
    epoch1_test = next(r for r in evals if r["dataset"] == "target/test" and r["epoch"] == 1)
    for key in ("mAP", "rank1", "rank5", "mINP"):
        assert final[key] == epoch1_test[key], key
    assert final["mAP"] < test[0][1]  # the kept model is not the test split's favourite


def test_the_test_split_is_never_used_for_selection(
        tmp_path: Path, data_roots: dict[str, Path], stripes: dict[str, Path]) -> None:
    runs = {}
    for kind in ("bottom", "top"):  # test identities in the other stripe, or the same one
        plugin = SelectionPlugin()
        summary = execute(_config(tmp_path, data_roots, stripes[kind], kind), plugins=[plugin])
        runs[kind] = (summary["stages"]["s"], plugin.evaluations)
    for kind, (_, evaluations) in runs.items():
        # every evaluation before the final one is on the validation split; the test split is
        # evaluated once, after the choice (eval_every 0)
        assert [(e, d) for e, d, _ in evaluations] == [
            (0, "target/val"), (1, "target/val"), (2, "target/val"), (2, "target/test")], kind
    bottom, top = runs["bottom"][0], runs["top"][0]
    # same validation split, opposite test splits: the same choice
    assert bottom["selection"] == top["selection"]
    assert bottom["selection"]["epoch"] == 1
    # ...while the test metrics of the kept network do differ (top stripe = test identity)
    assert (top["metrics"]["target/test"]["model"]["mAP"]
            > bottom["metrics"]["target/test"]["model"]["mAP"])


def test_select_val_without_a_validation_split_is_a_preflight_error(
        tmp_path: Path, data_roots: dict[str, Path]) -> None:
    raw = _config(tmp_path, data_roots, data_roots["target"], "noval")
    raw["data"]["target"] = "market1501"
    with pytest.raises(ConfigError, match=r"stages\.s\.select: val: dataset 'market1501' has no "
                                          r"labelled validation split.*\(target\)"):
        execute(raw, plugins=[SelectionPlugin()])
    assert not (tmp_path / "runs" / "noval" / "stages").exists()  # before any compute
    # evaluating a validation split that does not exist fails the same way
    raw["stages"] = {"e": {"method": "evaluate", "inputs": {"model": __file__}, "split": "val"}}
    with pytest.raises(ConfigError, match=r"stages\.e\.split: val: dataset 'market1501'"):
        execute(raw, plugins=[SelectionPlugin()])
