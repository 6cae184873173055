from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score

from reid_cluster import DBSCANClusterer, jaccard_distance, mmt_eps

CASES = [("spcl", 30, "ref_spcl_k1_30_k2_6"), ("mmt", 20, "ref_mmt_k1_20_k2_6")]


@pytest.fixture(scope="module")
def ours(jaccard_oracle):
    x = jaccard_oracle["features"]
    return {v: jaccard_distance(x, k1, 6, variant=v) for v, k1, _ in CASES}


@pytest.mark.parametrize("variant,k1,key", CASES)
def test_matches_reference(ours, jaccard_oracle, densify, variant, k1, key):
    j = ours[variant]
    assert isinstance(j, sp.csr_matrix) and j.dtype == np.float32 and j.has_sorted_indices
    assert (j.data < 1).all() and (j.data >= 0).all()
    assert np.abs(j.diagonal()).max() < 1e-6 and j.nnz < 0.2 * j.shape[0] ** 2
    ref = np.minimum(jaccard_oracle[key], 1.0)
    err = np.abs(densify(j) - ref)
    assert err.max() < 1e-4, (variant, err.max(), int((err > 1e-4).sum()))


def test_variants_differ(ours, densify):
    assert np.abs(densify(ours["spcl"]) - densify(ours["mmt"])).max() > 0.05


def test_faiss_backend_matches_reference(jaccard_oracle, densify):
    pytest.importorskip("faiss")
    j = jaccard_distance(jaccard_oracle["features"], 30, 6, knn_backend="faiss-flat")
    assert np.abs(densify(j) - np.minimum(jaccard_oracle["ref_spcl_k1_30_k2_6"], 1)).max() < 1e-4


def test_bad_variant():
    with pytest.raises(ValueError, match="spcl"):
        jaccard_distance(np.eye(4, dtype=np.float32), variant="nope")


def same_partition(a, b) -> bool:
    return adjusted_rand_score(a, b) == 1.0 and np.array_equal(a < 0, b < 0)


@pytest.mark.parametrize("eps", [0.5, 0.6])
def test_dbscan_sparse_equals_dense(ours, jaccard_oracle, eps):
    ref = jaccard_oracle["ref_spcl_k1_30_k2_6"]
    dense = DBSCAN(eps=eps, min_samples=4, metric="precomputed").fit_predict(ref)
    res = DBSCANClusterer(eps=eps, min_samples=4).cluster(
        jaccard_oracle["features"], ours["spcl"], ground_truth=jaccard_oracle["pids"])
    assert same_partition(res.labels, dense)
    assert res.num_clusters == len(set(dense) - {-1}) > 10
    assert res.centroids.shape == (res.num_clusters, 2048)
    assert 0 < res.telemetry["nmi"] <= 1 and res.telemetry["eps"] == eps


def _dense_eps(mat, rho):  # MMT's code, verbatim in spirit
    tri = np.triu(mat, 1)
    tri = np.sort(tri[np.nonzero(tri)], axis=None)
    return tri[: np.round(rho * tri.size).astype(int)].astype(np.float64).mean(), tri


def test_mmt_eps_matches_dense(ours, jaccard_oracle, densify):
    ref = jaccard_oracle["ref_mmt_k1_20_k2_6"]
    # exact on our own matrix densified (absent -> 1): the sparse bookkeeping is lossless
    assert abs(mmt_eps(ours["mmt"]) - _dense_eps(densify(ours["mmt"]), 1.6e-3)[0]) < 1e-6
    # against the reference: three near-duplicate pairs sit at 6e-8 there and at exactly 0
    # here (rounding), which shifts the averaged window by three entries
    dense_eps, tri = _dense_eps(ref, 1.6e-3)
    assert abs(mmt_eps(ours["mmt"]) - dense_eps) < 1e-3
    # a rho large enough to reach past the stored entries pads with absent pairs (= 1)
    top = np.round(0.3 * tri.size).astype(int)
    assert abs(mmt_eps(ours["mmt"], 0.3) - tri[:top].mean()) < 1e-4
    cl = DBSCANClusterer(eps="auto", variant="mmt", k1=20)
    res = cl.cluster(jaccard_oracle["features"], ours["mmt"])
    dense = DBSCAN(eps=cl.eps_, min_samples=4, metric="precomputed").fit_predict(ref)
    assert same_partition(res.labels, dense)
    assert cl.eps_ == res.telemetry["eps"]
    res2 = cl.cluster(jaccard_oracle["features"][::-1].copy())  # eps kept after the first call
    assert res2.telemetry["eps"] == cl.eps_
