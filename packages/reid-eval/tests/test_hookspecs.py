from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import clustered

import reid_eval
from reid_eval import hookspecs
from reid_plugin import DuplicateNameError, hookimpl, make_plugin_manager
from reid_plugin.testing import (
    assert_hooks_documented,
    assert_hooks_have_docstrings,
    assert_hooks_tested,
)

PKG = Path(__file__).resolve().parents[1]
MODULES = ["reid_eval", "reid_eval.hookspecs", "reid_eval.builtins", "reid_eval.ranking",
           "reid_eval.distances", "reid_eval.evaluate", "reid_eval.protocols", "reid_eval.crossmodal",
           "reid_eval.rerank", "reid_eval.extract", "reid_eval.reports"]


def test_hooks_documented_in_readme():
    text = (PKG / "README.md").read_text()
    assert "## Hook reference" in text
    assert_hooks_documented(hookspecs, text.split("## Hook reference", 1)[1])


def test_hooks_have_docstrings():
    assert_hooks_have_docstrings(hookspecs)


def test_hooks_tested():
    assert_hooks_tested(hookspecs, Path(__file__).parent)


def test_modules_import_clean():
    # one fresh interpreter (importing any submodule imports the package __init__ first, which
    # re-exports every module), with warnings as errors
    code = "; ".join(f"import {m}" for m in MODULES)
    res = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    # the heavy reid-cluster kernel is imported lazily, only when re-ranking runs
    code = "import sys, reid_eval; assert 'reid_cluster' not in sys.modules"
    res = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


# --------------------------------------------------------------------------- hooks


class _Topk:
    name = "top3"

    def evaluate(self, *a, **kw):
        return {"mAP": 0.0, "cmc": [0.0], "mINP": 0.0}


class ExtraProtocols:
    @staticmethod
    @hookimpl
    def reid_register_protocols():
        return [_Topk]


class DuplicateMarket:
    class Market:
        name = "market"

    @staticmethod
    @hookimpl
    def reid_register_protocols():
        return [DuplicateMarket.Market]


def test_hook_reid_register_protocols():
    pm = make_plugin_manager()
    assert {"market", "visda", "sysu", "regdb"} <= set(reid_eval.list_protocols(pm))
    pm2 = make_plugin_manager([ExtraProtocols])
    assert "top3" in reid_eval.list_protocols(pm2)
    assert isinstance(reid_eval.create_protocol("top3", pm2), _Topk)
    with pytest.raises(DuplicateNameError, match="market"):
        reid_eval.protocol_registry(make_plugin_manager([DuplicateMarket]))


class CameraSim:
    """camera-sim's rule: subtract 0.1 x the camera-feature squared distance."""

    @staticmethod
    @hookimpl
    def reid_modify_distance(distances, context):
        reid_eval.subtract_feature_distance(distances, context.extras["camera_features"], 0.1)


def _cam_case(seed=0, nq=20, ng=80, ids=8):
    rng = np.random.default_rng(seed)
    qp, gp = rng.integers(0, ids, nq), rng.integers(0, ids, ng)
    qc, gc = rng.integers(0, 3, nq), rng.integers(0, 3, ng)
    qf, gf = clustered(rng, ids, qp, qc), clustered(rng, ids, gp, gc)
    cams = np.concatenate([qc, gc])
    raw = np.eye(3)[cams] + 0.1 * rng.standard_normal((len(cams), 3))
    camf = torch.nn.functional.normalize(torch.from_numpy(raw).float(), dim=1)
    return qf, gf, qp, gp, qc, gc, camf


def test_hook_reid_modify_distance():
    qf, gf, qp, gp, qc, gc, camf = _cam_case()
    pm = make_plugin_manager([CameraSim])
    nq = len(qf)
    ctx = reid_eval.make_context(qf, gf, extras={"camera_features": camf})
    d = reid_eval.pairwise_distance(torch.from_numpy(qf), torch.from_numpy(gf))
    adjusted = d - 0.1 * reid_eval.pairwise_distance(camf[:nq], camf[nq:])
    np.testing.assert_allclose(reid_eval.compute_distance_matrix(ctx, pm).numpy(), adjusted.numpy(), atol=1e-6)
    # the hook reaches the protocol's chunked evaluation ...
    qs = [(f"q{i}", int(p), int(c)) for i, (p, c) in enumerate(zip(qp, qc))]
    gs = [(f"g{i}", int(p), int(c)) for i, (p, c) in enumerate(zip(gp, gc))]
    r = reid_eval.create_protocol("market", pm=pm).evaluate(
        qf, gf, qs, gs, pm=pm, extras={"camera_features": camf})
    ref = reid_eval.evaluate_rank(adjusted.numpy(), qp, gp, qc, gc)
    assert r["mAP"] == pytest.approx(ref["mAP"], abs=1e-9)
    # ... and every distance that re-ranking reads (q-g, q-q, g-g, scattered pairs)
    allf = torch.from_numpy(np.concatenate([qf, gf]))
    full = reid_eval.pairwise_distance(allf, allf) - 0.1 * reid_eval.pairwise_distance(camf, camf)
    full = full.numpy()
    ref_rr = reid_eval.re_ranking(full[:nq, nq:], full[:nq, :nq], full[nq:, nq:], 6, 3, 0.3)
    out = reid_eval.rerank_features(ctx, pm, 6, 3, 0.3)
    np.testing.assert_allclose(out, ref_rr, atol=1e-5)
    # without the plugin nothing changes
    assert not np.allclose(reid_eval.compute_distance_matrix(ctx, make_plugin_manager()).numpy(), adjusted.numpy())
