from __future__ import annotations

import numpy as np
import pytest

from reid_cluster import PseudoLabels, cluster_telemetry, label_churn
from reid_cluster.telemetry import make_pseudo_labels


def test_histogram_outliers_and_gt():
    labels = np.array([0, 0, 0, 1, 1, -1, 2, 2, -1, 3])
    t = cluster_telemetry(labels, ground_truth=[5, 5, 5, 6, 6, 7, 8, 8, 9, 10])
    assert t["num_clusters"] == 4 and t["num_outliers"] == 2
    assert t["outlier_ratio"] == pytest.approx(0.2)
    assert t["cluster_size_histogram"] == {1: 1, 2: 2, 3: 1}
    assert t["largest_cluster"] == 3
    assert t["nmi"] == pytest.approx(1.0) and t["ari"] == pytest.approx(1.0)
    t2 = cluster_telemetry(labels, ground_truth=[0] * 10)
    assert t2["ari"] == pytest.approx(0.0)


def test_churn_renumbering_is_free():
    prev = np.array([0, 0, 1, 1, 2, 2, -1])
    cur = np.array([2, 2, 0, 0, 1, 1, -1])
    c = label_churn(cur, prev)
    assert c == {"churn": 0.0, "churn_nmi": pytest.approx(1.0), "churn_ari": pytest.approx(1.0)}


def test_churn_hand_made():
    prev = np.array([0, 0, 0, 1, 1, 1, -1, 2])
    # cluster 5 = {0,1,3}: majority prev 0 -> sample 3 churns; cluster 7 = {2,4,5}: majority
    # prev 1 -> sample 2 churns; sample 6 joins a cluster (was outlier) -> churn; sample 7
    # becomes an outlier -> churn
    cur = np.array([5, 5, 7, 5, 7, 7, 7, -1])
    c = label_churn(cur, prev)
    assert c["churn"] == pytest.approx(4 / 8)
    assert 0 < c["churn_nmi"] < 1
    with pytest.raises(ValueError, match="shape"):
        label_churn(cur[:3], prev)


def test_churn_tie_and_new_cluster_of_outliers():
    prev = np.array([0, 1, -1, -1])
    cur = np.array([3, 3, 4, 4])  # tie 0/1 -> matched to 0; cluster 4 had no clustered member
    assert label_churn(cur, prev)["churn"] == pytest.approx(3 / 4)


def test_make_pseudo_labels_renumbers_and_centroids():
    x = np.array([[1, 0], [3, 0], [0, 2], [0, 4], [9, 9]], dtype=np.float32)
    pl = make_pseudo_labels(np.array([7, 7, 3, 3, -1]), x, previous=np.array([0, 0, 1, 1, 1]))
    assert isinstance(pl, PseudoLabels)
    assert pl.labels.tolist() == [1, 1, 0, 0, -1] and pl.num_clusters == 2
    assert pl.outliers.tolist() == [4]
    assert np.allclose(pl.centroids, [[0, 3], [2, 0]])
    assert np.allclose(pl.normalized_centroids(), [[0, 1], [1, 0]])
    assert pl.telemetry["churn"] == pytest.approx(1 / 5)
