from __future__ import annotations

import numpy as np
import pytest

from reid_cluster import jaccard_from_encoding, k_reciprocal_encoding, k_reciprocal_sets


def test_rerank_oracle(rerank_oracle, densify):
    r = rerank_oracle
    nq = r["q_g"].shape[0]
    d = np.block([[r["q_q"], r["q_g"]], [r["q_g"].T, r["g_g"]]]) ** 2
    d = (d / d.max(axis=0)).T.astype(np.float32)
    rank = np.argsort(d, axis=1)[:, :21]
    v = k_reciprocal_encoding(rank, np.take_along_axis(d, rank, 1), 20, 6, weighting="exp",
                              pair_distance=lambda a, b: d[a, b])
    jq = jaccard_from_encoding(v, rows=np.arange(nq), clip_negative=False)
    assert jq.shape == (nq, len(d))
    final = (0.7 * densify(jq) + 0.3 * d[:nq])[:, nq:]
    assert np.abs(final - r["ref_rerank_k1_20_k2_6_lambda_0_3"]).max() < 1e-5


def _line():
    # 6 points on a line: ranks by |i - j|, self first
    x = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 12.0])
    dist = np.abs(x[:, None] - x[None, :])
    rank = np.argsort(dist, axis=1, kind="stable")
    return dist, rank


def test_reciprocal_sets_and_slicing():
    dist, rank = _line()
    sets = k_reciprocal_sets(rank, 2)  # columns [:3]
    assert sorted(sets[0].tolist()) == [0, 1, 2]
    assert sorted(sets[3].tolist()) == [3, 4, 5]
    # K = k1 truncates the k1 + 1 slice (SpCL's convention): only self + 1 neighbour
    sets_trunc = k_reciprocal_sets(rank[:, :2], 2)
    assert sorted(sets_trunc[1].tolist()) in ([0, 1], [1, 2])


def test_encoding_rows_sum_to_one_and_jaccard_blocks():
    dist, rank = _line()
    v = k_reciprocal_encoding(rank[:, :3], np.take_along_axis(dist, rank[:, :3], 1), 2, 1,
                              weighting="exp")
    assert np.allclose(np.asarray(v.sum(1)).ravel(), 1.0, atol=1e-6)
    j = jaccard_from_encoding(v).toarray()
    # the two groups never share support: absent (= 1) between them, zeros on the diagonal
    assert j[0, 3] == 0 and not jaccard_from_encoding(v)[0, 3]
    assert np.abs(np.diag(j)).max() < 1e-6
    jd = jaccard_from_encoding(v)
    assert set(jd[0].indices.tolist()) <= {0, 1, 2}


def test_missing_pair_distance_is_an_error():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    rank = np.argsort(d, axis=1)[:, :5]
    with pytest.raises(ValueError, match="pair_distance"):
        k_reciprocal_encoding(rank, np.take_along_axis(d, rank, 1), 8, 2)
    v = k_reciprocal_encoding(rank, np.take_along_axis(d, rank, 1), 8, 2,
                              pair_distance=lambda a, b: d[a, b])
    full = np.argsort(d, axis=1)
    v_full = k_reciprocal_encoding(full[:, :5], np.take_along_axis(d, full[:, :5], 1), 8, 2,
                                   pair_distance=lambda a, b: d[a, b])
    assert np.allclose(v.toarray(), v_full.toarray())


def test_bad_inputs():
    with pytest.raises(ValueError, match="weighting"):
        k_reciprocal_encoding(np.zeros((2, 2), int), np.zeros((2, 2)), 1, 1, weighting="x")
    with pytest.raises(ValueError, match="outside"):
        k_reciprocal_encoding(np.full((2, 2), -1), np.zeros((2, 2)), 1, 1)


def test_jaccard_rows_equals_per_call_and_dense(densify):
    from reid_cluster.kreciprocal import JaccardRows

    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    rank = np.argsort(d, axis=1, kind="stable")[:, :11]
    v = k_reciprocal_encoding(rank, np.take_along_axis(d, rank, 1), 10, 4, weighting="exp",
                              pair_distance=lambda a, b: d[a, b])
    jr = JaccardRows(v)
    full = jaccard_from_encoding(v)
    rows = np.array([5, 0, 299, 17])
    part = jr(rows, clip_negative=False)
    assert part.has_sorted_indices and (part.data < 1).all()
    assert np.array_equal(densify(part), densify(jaccard_from_encoding(v, rows, clip_negative=False)))
    # dense reference: 1 - m / (2 - m), m = sum_k min(V_ik, V_jk)
    vd = v.toarray().astype(np.float64)
    m = np.minimum(vd[:, None, :], vd[None, :, :]).sum(-1)
    ref = np.maximum(1 - m / (2 - m), 0)
    assert np.abs(densify(full) - np.minimum(ref, 1)).max() < 1e-6
