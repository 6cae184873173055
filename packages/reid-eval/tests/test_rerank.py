from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import clustered, oracle

from reid_eval import make_context, re_ranking, rerank_chunks, rerank_features


def _dense_original(q_g, q_q, g_g, k1=20, k2=6, lambda_value=0.3):
    """Zhong et al.'s dense re-ranking (the torchreid version), for small inputs."""
    original = np.concatenate([np.concatenate([q_q, q_g], 1), np.concatenate([q_g.T, g_g], 1)], 0)
    original = np.power(original, 2).astype(np.float32)
    original = np.transpose(1.0 * original / np.max(original, axis=0))
    V = np.zeros_like(original)
    rank = np.argsort(original, kind="stable").astype(np.int32)
    nq, n = q_g.shape[0], original.shape[0]
    for i in range(n):
        fwd = rank[i, : k1 + 1]
        recip = fwd[np.where(rank[fwd, : k1 + 1] == i)[0]]
        exp = recip
        for c in recip:
            cf = rank[c, : int(np.around(k1 / 2.0)) + 1]
            cr = cf[np.where(rank[cf, : int(np.around(k1 / 2.0)) + 1] == c)[0]]
            if len(np.intersect1d(cr, recip)) > 2.0 / 3 * len(cr):
                exp = np.append(exp, cr)
        exp = np.unique(exp)
        w = np.exp(-original[i, exp])
        V[i, exp] = w / np.sum(w)
    if k2 != 1:
        V = np.stack([V[rank[i, :k2]].mean(0) for i in range(n)])
    jac = np.zeros((nq, n), np.float32)
    for i in range(nq):
        m = np.minimum(V[i][None, :], V).sum(1)
        jac[i] = 1 - m / (2.0 - m)
    return (jac * (1 - lambda_value) + original[:nq] * lambda_value)[:, nq:]


def test_oracle_rerank_dense_inputs():
    d = oracle("rerank_q300_g1200.npz")
    out = re_ranking(d["q_g"], d["q_q"], d["g_g"], 20, 6, 0.3)
    ref = d["ref_rerank_k1_20_k2_6_lambda_0_3"]
    assert out.shape == ref.shape and out.dtype == np.float32
    assert np.abs(out - ref).max() < 1e-4


def test_oracle_rerank_from_features_small_blocks():
    d = oracle("rerank_q300_g1200.npz")
    ctx = make_context(d["qf"], d["gf"])
    blocks = list(rerank_chunks(ctx, block_bytes=1500 * 8 * 100, chunk_rows=64))
    assert [b.shape[0] for _, b in blocks][:2] == [64, 64]
    out = np.concatenate([b for _, b in blocks])
    assert np.abs(out - d["ref_rerank_k1_20_k2_6_lambda_0_3"]).max() < 1e-4


@pytest.mark.parametrize("k1,k2,lam", [(6, 3, 0.3), (4, 1, 0.5), (8, 2, 0.0)])
def test_small_cases_match_dense_original(k1, k2, lam):
    rng = np.random.default_rng(k1)
    pids = rng.integers(0, 6, 50)
    f = clustered(rng, 6, pids, np.zeros(50, int), dim=8, noise=0.9)
    qf, gf = f[:12], f[12:]
    sq = lambda a, b: ((a[:, None] - b[None]) ** 2).sum(-1).astype(np.float32)  # noqa: E731
    ref = _dense_original(sq(qf, gf), sq(qf, qf), sq(gf, gf), k1, k2, lam)
    np.testing.assert_allclose(re_ranking(sq(qf, gf), sq(qf, qf), sq(gf, gf), k1, k2, lam), ref, atol=1e-5)
    np.testing.assert_allclose(rerank_features(make_context(qf, gf), None, k1, k2, lam), ref, atol=1e-5)


def test_parameter_errors():
    z = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="shapes do not fit"):
        re_ranking(z, np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="k2"):
        re_ranking(z, np.zeros((2, 2)), np.zeros((3, 3)), k1=2, k2=5)
    with pytest.raises(ValueError, match="lambda_value"):
        re_ranking(z, np.zeros((2, 2)), np.zeros((3, 3)), lambda_value=2)


def test_uses_the_shared_reid_cluster_kernel(monkeypatch):
    import reid_cluster.kreciprocal as kr

    calls = []
    real = kr.k_reciprocal_encoding

    def spy(*a, **kw):
        calls.append(kw.get("weighting"))
        return real(*a, **kw)

    monkeypatch.setattr(kr, "k_reciprocal_encoding", spy)
    f = torch.nn.functional.normalize(torch.randn(30, 8), dim=1)
    rerank_features(make_context(f[:5], f[5:]), None, 6, 3, 0.3)
    assert calls == ["exp"]


def test_asymmetric_matrices_match_dense_original():
    # the original normalises and ranks the columns of the input: asymmetric q_q / g_g (e.g. a
    # distance hook that is not symmetric) must give its result too
    rng = np.random.default_rng(7)
    q_g = rng.random((9, 31)).astype(np.float32) + 0.1
    q_q = rng.random((9, 9)).astype(np.float32) + 0.1
    g_g = rng.random((31, 31)).astype(np.float32) + 0.1
    np.fill_diagonal(q_q, 0)
    np.fill_diagonal(g_g, 0)
    ref = _dense_original(q_g, q_q, g_g, 5, 3, 0.3)
    np.testing.assert_allclose(re_ranking(q_g, q_q, g_g, 5, 3, 0.3), ref, atol=1e-5)
    np.testing.assert_allclose(re_ranking(q_g, q_q, g_g, 5, 3, 0.3, block_bytes=40 * 8 * 3), ref,
                               atol=1e-5)
