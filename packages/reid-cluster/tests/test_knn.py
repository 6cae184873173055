from __future__ import annotations

import builtins

import numpy as np
import pytest
import torch

from reid_cluster import TorchKnn, clustered_features, create_knn_backend, knn


@pytest.fixture(scope="module")
def feats():
    return clustered_features(1500, 256, seed=3)[0]


def _exact(x, k):
    d = ((x[:, None].astype(np.float64) - x[None]) ** 2).sum(-1)
    return np.sort(d, 1)[:, :k], np.argsort(d, 1, kind="stable")[:, :k]


@pytest.mark.parametrize("dtype", ["fp32", "bf16", "fp16"])
def test_torch_matches_exact(feats, dtype):
    ed, ei = _exact(feats, 10)
    b = TorchKnn(search_dtype=dtype, chunk_bytes=1 << 20)
    d, i = b.search(feats, 10)
    assert d.dtype == np.float32 and i.dtype == np.int64 and i.shape == (1500, 10)
    assert np.all(i[:, 0] == np.arange(1500))
    assert np.abs(d - ed).max() < 1e-5
    assert (i != ei).any(1).mean() < 0.01  # only exact-tie swaps
    assert b.last_stats["rows"] == 1500


def test_torch_tensor_queries_and_exclude_self(feats):
    d, i = knn(torch.from_numpy(feats), 5, exclude_self=True)
    assert not np.any(i == np.arange(1500)[:, None]) and i.shape == (1500, 5)
    dq, iq = knn(feats, 3, queries=feats[:7] + 0.0)
    assert iq.shape == (7, 3) and np.all(iq[:, 0] == np.arange(7))
    with pytest.raises(ValueError, match="exceeds"):
        knn(feats[:4], 5)


def test_faiss_agree(feats):
    pytest.importorskip("faiss")
    d0, i0 = knn(feats, 10, search_dtype="fp32")
    d1, i1 = knn(feats, 10, "faiss-flat")
    assert np.abs(d0 - d1).max() < 1e-4 and (i0 != i1).any(1).mean() < 0.01
    d2, i2 = knn(feats, 10, "faiss-ivf", nprobe=64)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(i0, i2)])
    assert recall > 0.95
    _, i3 = knn(feats, 4, "faiss-flat", exclude_self=True)
    assert not np.any(i3 == np.arange(1500)[:, None])


def test_faiss_missing_names_extra(monkeypatch):
    real = builtins.__import__

    def fake(name, *a, **kw):
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)
    for name in ("faiss-flat", "faiss-ivf"):
        with pytest.raises(ImportError, match=r"reid-cluster\[faiss\]"):
            create_knn_backend(name)


def test_unknown_backend_lists_choices():
    from reid_plugin import UnknownNameError

    with pytest.raises(UnknownNameError, match="torch"):
        knn(np.eye(3, dtype=np.float32), 1, "annoy")
    with pytest.raises(ValueError, match="bf16"):
        TorchKnn(search_dtype="int8")


def test_dense_topk_and_stream_match_a_sort():
    from reid_cluster.knn import StreamTopK, dense_topk

    rng = np.random.default_rng(5)
    a = rng.normal(size=(70, 300)).astype(np.float32)
    a[3, 10:20] = 0.25  # exact ties: broken by column index, like a stable sort
    for absolute in (False, True):
        key = np.abs(a) if absolute else a
        order = np.argsort(key, axis=1, kind="stable")[:, :12]
        vals, idx, mx = dense_topk(a, 12, absolute=absolute)
        assert np.array_equal(idx, order) and np.array_equal(vals, np.take_along_axis(key, order, 1))
        assert np.array_equal(mx, key.max(1))
    # fed by row blocks and by column blocks (read in memory order), lists = columns of b
    b = rng.normal(size=(90, 40)).astype(np.float32)
    st = StreamTopK(40, 5, absolute=True)
    st.offer(b[:50], 0, 0, by_columns=True)
    st.offer(b[50:].T.copy(), 0, 50)  # rows of the transpose: list i, candidates 50..89
    vals, idx, mx = st.result()
    ref = np.argsort(np.abs(b).T, axis=1, kind="stable")[:, :5]
    assert np.array_equal(idx, ref) and np.array_equal(mx, np.abs(b).max(0))
    with pytest.raises(ValueError, match="outside"):
        st.offer(b, 10, 0, by_columns=True)


@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
def test_symmetric_blocks_equal_one_block(feats, dtype):
    # many upper-triangle strips (lower triangle reached through the columns) == one block
    d0, i0 = TorchKnn(search_dtype=dtype, chunk_bytes=1 << 30).search(feats[:700], 12)
    d1, i1 = TorchKnn(search_dtype=dtype, chunk_bytes=40_000).search(feats[:700], 12)
    assert np.array_equal(i0, i1) and np.array_equal(d0, d1)
