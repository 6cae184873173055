from __future__ import annotations

import numpy as np
import pytest
import torch
from _reference import eval_market
from conftest import clustered, oracle

from reid_eval import evaluate_features, evaluate_rank, pairwise_distance


def test_oracle_eval_q500_g2000():
    d = oracle("eval_q500_g2000.npz")
    r = evaluate_rank(d["distmat"], d["q_pids"], d["g_pids"], d["q_camids"], d["g_camids"])
    assert abs(r["mAP"] - d["ref_mAP"]) < 1e-6
    assert abs(r["mINP"] - d["ref_mINP"]) < 1e-6
    assert len(r["cmc"]) == 50
    np.testing.assert_allclose(r["cmc"], d["ref_cmc"], atol=1e-6)
    assert r["camera_filter"] is True


def _case(seed, nq=40, ng=200, ids=15, cams=4):
    rng = np.random.default_rng(seed)
    qp, gp = rng.integers(0, ids, nq), rng.integers(0, ids, ng)
    qc, gc = rng.integers(0, cams, nq), rng.integers(0, cams, ng)
    return rng, qp, gp, qc, gc


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["float32", "float64", "ties"])
def test_matches_reference(seed, kind):
    rng, qp, gp, qc, gc = _case(seed)
    if kind == "ties":  # few distinct values: many ties, resolved in gallery order
        d = rng.integers(0, 6, (len(qp), len(gp))).astype(np.float32)
    else:
        d = rng.random((len(qp), len(gp))).astype(kind) + 0.4 * (qp[:, None] != gp[None, :])
    ref = eval_market(d, qp, gp, qc, gc, max_rank=10)
    r = evaluate_rank(d, qp, gp, qc, gc, max_rank=10)
    assert r["num_valid_queries"] == ref["num_valid_queries"]
    assert abs(r["mAP"] - ref["mAP"]) < 1e-12
    assert abs(r["mINP"] - ref["mINP"]) < 1e-12
    np.testing.assert_allclose(r["cmc"], ref["cmc"], atol=1e-12)


def test_hand_made_removal_and_skipping():
    # query 0 (pid 1, cam 0); gallery: [pid1 cam0 (removed), pid2, pid1 cam1, pid3]
    d = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.1, 0.2, 0.3]], dtype=np.float32)
    qp, qc = np.array([1, 7]), np.array([0, 0])  # query 1's pid is absent: skipped
    gp, gc = np.array([1, 2, 1, 3]), np.array([0, 0, 1, 0])
    r = evaluate_rank(d, qp, gp, qc, gc, max_rank=3, return_per_query=True)
    # kept ranking for q0: pid2 (0.2), pid1 (0.3), pid3 -> first match at rank 2, AP = 1/2
    assert r["num_valid_queries"] == 1 and r["num_queries"] == 2
    assert r["mAP"] == pytest.approx(0.5) and r["mINP"] == pytest.approx(0.5)
    np.testing.assert_allclose(r["cmc"], [0, 1, 1])
    assert r["query_first_rank"].tolist() == [2, 0] and np.isnan(r["query_ap"][1])


def test_missing_cameras_remove_nothing():
    d = np.array([[0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    qp, gp = np.array([1]), np.array([1, 2, 1, 3])
    r = evaluate_rank(d, qp, gp, None, None, max_rank=2)
    assert r["camera_filter"] is False
    assert r["mAP"] == pytest.approx((1 + 2 / 3) / 2)
    np.testing.assert_allclose(r["cmc"], [1, 1])
    with pytest.raises(ValueError, match="both q_camids and g_camids"):
        evaluate_rank(d, qp, gp, np.array([0]), None)


def test_errors_name_the_input():
    with pytest.raises(ValueError, match="distmat has shape"):
        evaluate_rank(np.zeros((2, 3)), [1, 2], [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        evaluate_rank(np.full((1, 2), np.nan), [1], [1, 2])
    with pytest.raises(ValueError, match="no query has a valid match"):
        evaluate_rank(np.zeros((1, 2)), [5], [1, 2])


def test_chunked_features_equal_dense():
    rng, qp, gp, qc, gc = _case(7, nq=60, ng=300)
    qf = clustered(rng, 15, qp, qc)
    gf = clustered(rng, 15, gp, gc)
    d = pairwise_distance(torch.from_numpy(qf), torch.from_numpy(gf)).numpy()
    ref = evaluate_rank(d, qp, gp, qc, gc)
    r = evaluate_features(qf, gf, qp, gp, qc, gc, chunk_bytes=300 * 8 * 7)  # 7 rows per chunk
    assert r["mAP"] == pytest.approx(ref["mAP"], abs=1e-12)
    np.testing.assert_allclose(r["cmc"], ref["cmc"])
    assert r["rerank"] is False and r["metric"] == "sqeuclidean"


def test_torch_input_and_short_gallery():
    d = torch.tensor([[0.3, 0.1]])
    r = evaluate_rank(d, torch.tensor([1]), torch.tensor([1, 2]), max_rank=5)
    np.testing.assert_allclose(r["cmc"], [0, 1, 1, 1, 1])  # ranks beyond the gallery stay 1


def test_block_distance_slice_equals_index_columns():
    from reid_eval import block_distance, make_context

    rng = np.random.default_rng(3)
    ctx = make_context(rng.normal(size=(7, 16)), rng.normal(size=(40, 16)))
    rows = torch.arange(2, 6)
    by_slice = block_distance(ctx, rows, slice(7, 47))
    by_index = block_distance(ctx, rows, torch.arange(7, 47))
    assert torch.equal(by_slice, by_index)
    assert torch.equal(by_slice, pairwise_distance(ctx.features[2:6], ctx.features[7:]))
    assert torch.equal(block_distance(ctx, rows, None), pairwise_distance(ctx.features[2:6], ctx.features))
