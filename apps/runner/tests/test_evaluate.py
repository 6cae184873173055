"""The built-in ``evaluate`` method: every option against a computation by hand.

Model files hold random resnet18 networks (32x16); features are recomputed here directly with
reid-models and the reid-data test transform, and metrics with reid-eval's low-level functions
(``evaluate_rank``, ``re_ranking``), so each test checks what the option does, not only that it
runs.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from _synthetic import write_stripes
from _toy import SelectionPlugin
from conftest import base_config
from torch.nn import functional as F

from reid_data import ImageDataset, build_test_transform, create_dataset
from reid_eval import ensemble_features, evaluate_rank, pairwise_distance, re_ranking
from reid_models import create_model
from reid_plugin import hookimpl
from reid_runner import ConfigError, execute
from reid_runner.cli import main
from reid_runner.evaluation import default_protocol

H, W = 32, 16
METRICS = ("mAP", "rank1", "rank5", "mINP")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``ab.pt`` with networks ``a`` and ``b``, ``c.pt`` with ``model`` (random resnet18s)."""
    d = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    nets = {k: create_model("resnet18", num_classes=0).eval() for k in ("a", "b", "c")}
    for file, names in (("ab.pt", {"a": "a", "b": "b"}), ("c.pt", {"model": "c"})):
        torch.save({"format": "reid-model/1", "meta": {"arch": "resnet18", "height": H,
                                                       "width": W},
                    "nets": {n: nets[k].state_dict() for n, k in names.items()}}, d / file)
    return {"ab": d / "ab.pt", "c": d / "c.pt", "nets": nets}


@pytest.fixture(scope="module")
def target(data_roots: dict[str, Path]) -> Any:
    return create_dataset("market1501", data_roots["target"])


def _features(net: torch.nn.Module, samples: list[Any], flip: bool = False) -> torch.Tensor:
    ds = ImageDataset(samples, build_test_transform(H, W))
    x = torch.stack([ds[i]["image"] for i in range(len(ds))])
    with torch.no_grad():
        f = net(x)
        if flip:
            f = (f + net(torch.flip(x, dims=[3]))) / 2
    return F.normalize(f, dim=1)


def _split(feats: torch.Tensor, nq: int) -> tuple[torch.Tensor, torch.Tensor]:
    return feats[:nq], feats[nq:]


def _rank(dist: Any, query: list[Any], gallery: list[Any], cameras: bool = True) -> dict[str, Any]:
    q_pids, g_pids = [s.pid for s in query], [s.pid for s in gallery]
    q_cams = [s.camid for s in query] if cameras else None
    g_cams = [s.camid for s in gallery] if cameras else None
    r = evaluate_rank(np.asarray(dist, dtype=np.float64), q_pids, g_pids, q_cams, g_cams)
    return {"mAP": r["mAP"], "rank1": r["cmc"][0], "rank5": r["cmc"][4], "mINP": r["mINP"]}


def _assert_metrics(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key in METRICS:
        assert got[key] == pytest.approx(float(want[key]), abs=1e-6), key


def _evaluate(tmp: Path, roots: dict[str, Path], name: str, inputs: dict[str, str],
              plugins: tuple[object, ...] = (), **stage: Any) -> dict[str, Any]:
    raw = copy.deepcopy(base_config(tmp, roots, name))
    raw["stages"] = {"eval": {"method": "evaluate", "inputs": inputs, "eval_on": ["target"],
                              "plots": False, **stage}}
    summary = execute(raw, plugins=list(plugins))
    return summary["stages"]["eval"]["metrics"]


def test_each_network_and_flip(tmp_path: Path, data_roots: dict[str, Path],
                               models: dict[str, Any], target: Any) -> None:
    q, g = target.query, target.gallery
    inputs = {"ab": str(models["ab"]), "c": str(models["c"])}
    for flip in (False, True):
        got = _evaluate(tmp_path, data_roots, f"each{flip}", inputs, flip=flip)["target/test"]
        assert set(got) == {"ab.a", "ab.b", "c.model"}
        for label, key in (("ab.a", "a"), ("ab.b", "b"), ("c.model", "c")):
            qf, gf = _split(_features(models["nets"][key], q + g, flip), len(q))
            _assert_metrics(got[label], _rank(pairwise_distance(qf, gf), q, g))
            assert got[label]["protocol"] == "market" and got[label]["camera_filter"] is True
    # nets: only the named networks of the files
    got = _evaluate(tmp_path, data_roots, "some", inputs, nets=["b", "model"])["target/test"]
    assert set(got) == {"ab.b", "c.model"}


def test_ensemble_is_the_normalised_concatenation(tmp_path: Path, data_roots: dict[str, Path],
                                                  models: dict[str, Any], target: Any) -> None:
    q, g = target.query, target.gallery
    got = _evaluate(tmp_path, data_roots, "ens", {"ab": str(models["ab"]), "c": str(models["c"])},
                    ensemble=True)["target/test"]
    assert set(got) == {"ensemble"}
    parts = [_features(models["nets"][k], q + g) for k in ("a", "b", "c")]
    feats = F.normalize(torch.cat(parts, 1), dim=1)  # each L2-normalised, concatenated, again
    torch.testing.assert_close(feats, ensemble_features(parts))
    qf, gf = _split(feats, len(q))
    want = _rank(pairwise_distance(qf, gf), q, g)
    _assert_metrics(got["ensemble"], want)
    # on normalised parts the ensemble's squared distance is the members' mean
    mean = sum(pairwise_distance(*_split(p, len(q))) for p in parts) / 3
    torch.testing.assert_close(pairwise_distance(qf, gf), mean, atol=1e-5, rtol=1e-5)
    singles = [_rank(pairwise_distance(*_split(p, len(q))), q, g)["mAP"] for p in parts]
    assert want["mAP"] not in singles  # the ensemble is its own model


def test_rerank_equals_re_ranking_of_the_distances(tmp_path: Path, data_roots: dict[str, Path],
                                                   models: dict[str, Any], target: Any) -> None:
    q, g = target.query, target.gallery
    opts = {"k1": 6, "k2": 2, "lambda_value": 0.2}
    got = _evaluate(tmp_path, data_roots, "rr", {"c": str(models["c"])}, rerank=True,
                    **opts)["target/test"]["model"]
    qf, gf = _split(_features(models["nets"]["c"], q + g), len(q))
    q_g = pairwise_distance(qf, gf).numpy()
    q_q = pairwise_distance(qf, qf).numpy()
    g_g = pairwise_distance(gf, gf).numpy()
    reranked = re_ranking(q_g, q_q, g_g, **opts)
    assert not np.allclose(reranked, q_g)  # re-ranking changed the distances
    _assert_metrics(got, _rank(reranked, q, g))
    assert got["rerank"] == opts
    plain = _evaluate(tmp_path, data_roots, "plain", {"c": str(models["c"])})["target/test"]
    assert plain["model"]["rerank"] is False
    _assert_metrics(plain["model"], _rank(q_g, q, g))


def test_protocol_choice_changes_the_rules(tmp_path: Path, data_roots: dict[str, Path],
                                           models: dict[str, Any], target: Any) -> None:
    q, g = target.query, target.gallery
    qf, gf = _split(_features(models["nets"]["c"], q + g), len(q))
    dist = pairwise_distance(qf, gf)
    inputs = {"c": str(models["c"])}
    market = _evaluate(tmp_path, data_roots, "market", inputs)["target/test"]["model"]
    # regdb removes nothing: the query's same-camera gallery images count as matches
    regdb = _evaluate(tmp_path, data_roots, "regdb", inputs, protocol="regdb")["target/test"]
    regdb = regdb["model"]
    assert (market["protocol"], regdb["protocol"]) == ("market", "regdb")
    assert regdb["camera_filter"] is False and market["camera_filter"] is True
    _assert_metrics(regdb, _rank(dist, q, g, cameras=False))
    _assert_metrics(market, _rank(dist, q, g, cameras=True))
    assert regdb["mAP"] != market["mAP"]
    # visda: the CodaLab top-100 AP (all matches are within the top 100 of this tiny gallery, so
    # it equals the devkit AP, reported as mAP_all)
    visda = _evaluate(tmp_path, data_roots, "visda", inputs, protocol="visda")["target/test"]
    visda = visda["model"]
    assert visda["protocol"] == "visda" and visda["top"] == 100
    assert visda["mAP"] == pytest.approx(visda["mAP_all"]) == pytest.approx(market["mAP"])
    # an unknown protocol fails in preflight, listing the choices
    with pytest.raises(ConfigError, match=r"stages\.eval\.protocol: unknown protocol 'nope'; "
                                          r"choices: market, regdb, sysu, visda"):
        _evaluate(tmp_path, data_roots, "nope", inputs, protocol="nope")


def test_default_protocol_follows_the_dataset() -> None:
    def ds(name: str, **kw: Any) -> Any:
        return SimpleNamespace(name=name, **kw)

    assert default_protocol(ds("market1501")) == "market"
    assert default_protocol(ds("visda2020")) == "visda"
    assert default_protocol(ds("sysu_mm01")) == "sysu"
    assert default_protocol(ds("regdb")) == "regdb"
    assert default_protocol(ds("market1501", protocol="regdb")) == "regdb"  # declared wins


class CrossCameraPenalty:
    """A distance hook: +0.5 on every cross-camera pair (uses the samples of the context)."""

    @hookimpl
    def reid_modify_distance(self, distances: Any, context: Any) -> None:
        cams = torch.tensor([s[2] for s in context.samples])
        r, c = cams[distances.rows], cams[distances.cols]
        differ = (r != c) if distances.paired else (r[:, None] != c[None, :])
        distances.values += 0.5 * differ.to(distances.values.dtype)


def test_distance_hooks_apply(tmp_path: Path, data_roots: dict[str, Path],
                              models: dict[str, Any], target: Any) -> None:
    q, g = target.query, target.gallery
    qf, gf = _split(_features(models["nets"]["c"], q + g), len(q))
    q_cams = torch.tensor([s.camid for s in q])
    g_cams = torch.tensor([s.camid for s in g])
    dist = pairwise_distance(qf, gf) + 0.5 * (q_cams[:, None] != g_cams[None, :]).float()
    got = _evaluate(tmp_path, data_roots, "hook", {"c": str(models["c"])},
                    plugins=(CrossCameraPenalty(),))["target/test"]["model"]
    _assert_metrics(got, _rank(dist, q, g))
    plain = _rank(pairwise_distance(qf, gf), q, g)
    assert got["mAP"] != pytest.approx(plain["mAP"], abs=1e-6)  # the hook changed the ranking


def test_validation_split(tmp_path: Path, data_roots: dict[str, Path],
                          models: dict[str, Any]) -> None:
    root = write_stripes(tmp_path / "stripes")
    ds = create_dataset("stripes_val", root, pm=_pm())
    val = ds.validation()
    assert val is not None
    q, g = val
    raw = copy.deepcopy(base_config(tmp_path, data_roots, "val"))
    raw["data"].update(target="stripes_val", target_root=str(root))
    raw["stages"] = {"eval": {"method": "evaluate", "inputs": {"c": str(models["c"])},
                              "split": "val", "plots": False}}
    metrics = execute(raw, plugins=[SelectionPlugin()])["stages"]["eval"]["metrics"]
    assert set(metrics) == {"target/val"}
    qf, gf = _split(_features(models["nets"]["c"], q + g), len(q))
    _assert_metrics(metrics["target/val"]["model"], _rank(pairwise_distance(qf, gf), q, g))


def _pm() -> Any:
    from reid_plugin import make_plugin_manager

    return make_plugin_manager([SelectionPlugin()])


def test_reid_eval_command(tmp_path: Path, data_roots: dict[str, Path], models: dict[str, Any],
                           target: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """``reid eval A.pt B.pt --ensemble --rerank --flip`` is the evaluate stage of those flags."""
    q, g = target.query, target.gallery
    assert main(["eval", str(models["ab"]), str(models["c"]), "stages.evaluate.plots=false",
                 "data.workers=0", "run.progress=false", "-d", "market1501", "--data-root",
                 str(data_roots["target"]), "--ensemble", "--rerank", "--flip", "--json",
                 "--out-dir", str(tmp_path / "runs"), "--name", "cli"]) == 0
    got = json.loads(capsys.readouterr().out)["target/test"]["ensemble"]
    parts = [_features(models["nets"][k], q + g, flip=True) for k in ("a", "b", "c")]
    qf, gf = _split(F.normalize(torch.cat(parts, 1), dim=1), len(q))
    reranked = re_ranking(pairwise_distance(qf, gf).numpy(), pairwise_distance(qf, qf).numpy(),
                          pairwise_distance(gf, gf).numpy(), k1=20, k2=6, lambda_value=0.3)
    _assert_metrics(got, _rank(reranked, q, g))
    assert (tmp_path / "runs" / "cli" / "reports" / "evaluate" / "metrics.json").is_file()
