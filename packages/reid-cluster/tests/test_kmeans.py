from __future__ import annotations

import numpy as np
import pytest

from reid_cluster import KMeansClusterer, create_clusterer


def _blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 8)) * 10
    y = np.repeat(np.arange(4), 100)
    return (centres[y] + rng.normal(size=(400, 8))).astype(np.float32), y


@pytest.mark.parametrize("backend", ["torch", "sklearn", "faiss"])
def test_kmeans_recovers_blobs(backend):
    if backend == "faiss":
        pytest.importorskip("faiss")
    x, y = _blobs()
    km = create_clusterer("kmeans", n_clusters=4, seed=1, backend=backend)
    res = km.cluster(x, ground_truth=y)
    assert res.num_clusters == 4 and len(res.outliers) == 0
    assert res.telemetry["backend"] == backend
    # faiss seeds at random points (no k-means++), so one run may merge two blobs
    assert res.telemetry["ari"] == pytest.approx(1.0) if backend != "faiss" else res.telemetry["ari"] > 0.5
    assert res.centroids.shape == (4, 8)
    again = km.cluster(x, previous=res)
    assert np.array_equal(again.labels, res.labels) and again.telemetry["churn"] == 0.0


def test_kmeans_errors():
    with pytest.raises(ValueError, match="faiss"):
        KMeansClusterer(backend="gpu")
    with pytest.raises(ValueError, match="exceeds"):
        KMeansClusterer(n_clusters=10).cluster(np.zeros((3, 2), np.float32))
