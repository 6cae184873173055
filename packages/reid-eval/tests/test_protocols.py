from __future__ import annotations

import random
from collections import namedtuple

import numpy as np
import pytest
import torch
from _reference import eval_market, eval_sysu
from conftest import clustered

from reid_eval import (
    MarketProtocol,
    RegdbProtocol,
    SysuProtocol,
    create_protocol,
    dedup_cmc,
    list_protocols,
    pairwise_distance,
)
from reid_plugin import UnknownNameError

Sample = namedtuple("Sample", "path pid camid modality")


def _market_case(seed=0, nq=30, ng=150, ids=10):
    rng = np.random.default_rng(seed)
    qp, gp = rng.integers(0, ids, nq), rng.integers(0, ids, ng)
    qc, gc = rng.integers(0, 3, nq), rng.integers(0, 3, ng)
    qf, gf = clustered(rng, ids, qp, qc), clustered(rng, ids, gp, gc)
    qs = [(f"q{i}.jpg", int(p), int(c)) for i, (p, c) in enumerate(zip(qp, qc))]
    gs = [Sample(f"g{i}.jpg", int(p), int(c), "rgb") for i, (p, c) in enumerate(zip(gp, gc))]
    return qf, gf, qs, gs, qp, gp, qc, gc


def test_registry_lists_and_errors():
    assert list_protocols() == ["market", "regdb", "sysu", "visda"]
    with pytest.raises(UnknownNameError, match="Choices: market, regdb, sysu, visda"):
        create_protocol("markett")
    with pytest.raises(ValueError, match="unknown option.*'mode'"):
        create_protocol("market", mode="all")


def test_market_protocol_matches_reference():
    qf, gf, qs, gs, qp, gp, qc, gc = _market_case()
    d = pairwise_distance(torch.from_numpy(qf), torch.from_numpy(gf)).numpy()
    ref = eval_market(d, qp, gp, qc, gc)
    r = create_protocol("market").evaluate(qf, gf, qs, gs)
    assert r["protocol"] == "market" and r["camera_filter"] is True
    assert r["mAP"] == pytest.approx(ref["mAP"], abs=1e-9)
    np.testing.assert_allclose(r["cmc"], ref["cmc"], atol=1e-9)
    # without camera ids nothing is removed and the result says so
    r2 = MarketProtocol().evaluate(qf, gf, [(p, i, None) for p, i, _ in qs], gs)
    ref2 = eval_market(d, qp, gp)
    assert r2["camera_filter"] is False
    assert r2["mAP"] == pytest.approx(ref2["mAP"], abs=1e-9)


def test_market_rerank_option():
    qf, gf, qs, gs, *_ = _market_case(1)
    r = create_protocol("market", rerank={"k1": 5, "k2": 3}).evaluate(qf, gf, qs, gs)
    assert r["rerank"] == {"k1": 5, "k2": 3, "lambda_value": 0.3}
    with pytest.raises(ValueError, match="unknown re-ranking option"):
        create_protocol("market", rerank={"k3": 1}).evaluate(qf, gf, qs, gs)


def test_visda_top100_and_submission(tmp_path):
    # query pid 1 cam 0; 150 gallery items: the only match sits at kept rank 120 -> AP_top = 0
    ng = 150
    gp = np.full(ng, 9)
    gp[119] = 1
    gp[2] = 1
    gc = np.ones(ng, dtype=int)
    gc[2] = 0  # same pid and camera as the query: removed
    gf = np.zeros((ng, 2), np.float32)
    gf[:, 0] = np.linspace(0, 1, ng)
    gf[:, 1] = 1
    # features are not normalised here; distances are |q - g|^2 along axis 0
    qf = np.array([[-1e-3, 1.0]], np.float32)
    qs = [("q.jpg", 1, 0)]
    gs = [(f"{i}.jpg", int(p), int(c)) for i, (p, c) in enumerate(zip(gp, gc))]
    sub = tmp_path / "sub" / "result.txt"
    r = create_protocol("visda", normalize_features=False).evaluate(qf, gf, qs, gs, submission=sub)
    assert r["mAP"] == 0.0  # the match is beyond the top 100 kept items
    assert r["mAP_all"] == pytest.approx(1 / 119)  # rank 119 after removing item 2
    assert len(r["cmc"]) == 50 and r["cmc"][-1] == 0
    lines = sub.read_text().splitlines()
    assert len(lines) == 1 and lines[0].split()[:3] == ["0", "1", "2"] and len(lines[0].split()) == 100
    # a match at rank 3 and one at rank 150: AP_top = (1/3) / 1 hit in the top 100
    gp2 = np.full(ng, 9)
    gp2[[3, 149]] = 1
    gs2 = [(f"{i}.jpg", int(p), 1) for i, p in enumerate(gp2)]
    r2 = create_protocol("visda", normalize_features=False).evaluate(qf, gf, qs, gs2)
    d = ((qf[:, None] - gf[None]) ** 2).sum(-1)
    ref = eval_market(d, np.array([1]), gp2, np.array([0]), np.ones(ng, int), top=100)
    assert r2["mAP"] == pytest.approx(1 / 4) == pytest.approx(ref["mAP_top"])
    assert r2["mAP_all"] == pytest.approx(ref["mAP"])


def test_visda_test_split_writes_submission_only(tmp_path):
    qf, gf, qs, gs, *_ = _market_case(2)
    r = create_protocol("visda").evaluate(qf, gf, qs, gs, submission=tmp_path / "r.txt", compute_metrics=False)
    assert "mAP" not in r and len((tmp_path / "r.txt").read_text().splitlines()) == len(qs)


def _sysu_pool(rng, ids=(3, 5, 8, 13), per_cam=4):
    """Gallery pool of RGB images (0-based camids: cam1 -> 0 ...) and IR queries."""
    gal, qry = [], []
    for pid in ids:
        for cam in (1, 2, 4, 5):
            for k in range(per_cam if cam != 5 else 12):
                gal.append((f"/sysu/cam{cam}/{pid:04d}/{k:04d}.jpg", pid, cam - 1))
        for cam in (3, 6):
            for k in range(2):
                qry.append((f"/sysu/cam{cam}/{pid:04d}/{k:04d}.jpg", pid, cam - 1))
    rng.shuffle(gal)
    return qry, gal


def _official_single_shot(gal, trial, cams):
    """process_gallery_sysu: random.seed(trial), ids ascending, cams in order, sorted files."""
    random.seed(trial)
    chosen = []
    for pid in sorted({s[1] for s in gal}):
        for cam in cams:
            files = sorted(s[0] for s in gal if s[1] == pid and s[2] == cam - 1)
            if files:
                chosen.append(random.choice(files))
    return chosen


@pytest.mark.parametrize("mode,cams", [("all", (1, 2, 4, 5)), ("indoor", (1, 2))])
def test_sysu_trials_follow_random_seed(mode, cams):
    rng = np.random.default_rng(0)
    _, gal = _sysu_pool(rng)
    proto = SysuProtocol()
    for trial in (0, 3):
        sel = proto.gallery_trial(gal, trial, mode)
        assert [gal[i][0] for i in sel] == _official_single_shot(gal, trial, cams)
    assert not np.array_equal(proto.gallery_trial(gal, 0, mode), proto.gallery_trial(gal, 1, mode))
    multi = proto.gallery_trial(gal, 0, mode, shots=10)
    assert len(multi) == sum(min(10, 12 if c == 5 else 4) for c in cams) * 4


def test_sysu_metrics_match_official_eval():
    rng = np.random.default_rng(1)
    qry, gal = _sysu_pool(rng)
    qp = np.array([s[1] for s in qry])
    gp = np.array([s[1] for s in gal])
    qf = clustered(rng, 14, qp, np.zeros(len(qp), int), noise=1.5)
    gf = clustered(rng, 14, gp, np.zeros(len(gp), int), noise=1.5)
    r = SysuProtocol(trials=3).evaluate(qf, gf, qry, gal)
    d_full = pairwise_distance(torch.from_numpy(qf), torch.from_numpy(gf)).numpy()
    refs = []
    for t in range(3):
        sel = SysuProtocol().gallery_trial(gal, t)
        g_cam = np.array([gal[i][2] + 1 for i in sel])
        q_cam = np.array([s[2] + 1 for s in qry])
        refs.append(eval_sysu(d_full[:, sel], qp, gp[sel], q_cam, g_cam))
    assert r["num_trials"] == 3 and r["cmc_kind"] == "deduplicated" and len(r["cmc"]) == 20
    assert r["mAP"] == pytest.approx(np.mean([x["mAP"] for x in refs]), abs=1e-9)
    assert r["mINP"] == pytest.approx(np.mean([x["mINP"] for x in refs]), abs=1e-9)
    np.testing.assert_allclose(r["cmc"], np.mean([x["cmc"] for x in refs], 0), atol=1e-9)


def test_sysu_cam2_removed_for_cam3_queries_only():
    # one cam3 query and one cam6 query of pid 1; gallery: pid1@cam2 (closest), pid2@cam1, pid1@cam1
    d = np.array([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]], np.float32)
    qp, gp = np.array([1, 1]), np.array([1, 2, 1])
    q_cam, g_cam = np.array([3, 6]), np.array([2, 1, 1])
    removed = (q_cam[:, None] == 3) & (g_cam[None, :] == 2)
    cmc = dedup_cmc(d, qp, gp, removed, 3)
    np.testing.assert_allclose(cmc, [0.5, 1, 1])  # cam3 query: pid2 then pid1 -> rank 2
    ref = eval_sysu(d, qp, gp, q_cam, g_cam, max_rank=3)
    np.testing.assert_allclose(cmc, ref["cmc"])


def test_dedup_cmc_counts_identities_not_images():
    # ranked ids: 2, 2, 2, 1 -> standard rank 4, de-duplicated rank 2; divided by ALL queries
    d = np.array([[0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]], np.float32)
    qp, gp = np.array([1, 7]), np.array([2, 2, 2, 1])
    np.testing.assert_allclose(dedup_cmc(d, qp, gp, None, 3), [0, 0.5, 0.5])


def test_regdb_directions_and_mean_of_trials():
    rng = np.random.default_rng(3)
    pids = np.repeat(np.arange(6), 3)
    vis = [Sample(f"v{i}.bmp", int(p), 0, "visible") for i, p in enumerate(pids)]
    th = [Sample(f"t{i}.bmp", int(p), 1, "thermal") for i, p in enumerate(pids)]
    results = []
    for trial in range(3):
        vf = clustered(rng, 6, pids, np.zeros(len(pids), int), noise=1.2)
        tf = clustered(rng, 6, pids, np.zeros(len(pids), int), noise=1.2)
        r = RegdbProtocol().evaluate(vf, tf, vis, th, direction="both", trial=trial)
        d = pairwise_distance(torch.from_numpy(vf), torch.from_numpy(tf)).numpy()
        ref_v2t = eval_market(d, pids, pids, max_rank=20)
        ref_t2v = eval_market(d.T.copy(), pids, pids, max_rank=20)
        assert r["direction"] == "visible-thermal" and r["camera_filter"] is False
        assert r["mAP"] == pytest.approx(ref_v2t["mAP"], abs=1e-9)
        assert r["thermal-visible"]["mAP"] == pytest.approx(ref_t2v["mAP"], abs=1e-6)
        # sets given the other way round are re-oriented by their modality
        swapped = RegdbProtocol().evaluate(tf, vf, th, vis)
        assert swapped["mAP"] == pytest.approx(r["mAP"], abs=1e-9)
        results.append(r)
    mean = RegdbProtocol.aggregate(results)
    assert mean["num_trials"] == 3
    assert mean["mAP"] == pytest.approx(np.mean([r["mAP"] for r in results]))
    assert mean["thermal-visible"]["mAP"] == pytest.approx(np.mean([r["thermal-visible"]["mAP"] for r in results]))
    with pytest.raises(ValueError, match="choices"):
        RegdbProtocol().evaluate(vf, tf, vis, th, direction="up")
