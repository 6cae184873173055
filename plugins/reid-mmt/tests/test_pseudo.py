from __future__ import annotations

import numpy as np
import pytest
import torch
from reid_mmt.pseudo import PseudoLabelConfig, build_clusterer, ground_truth


def test_ground_truth_only_when_labelled() -> None:
    assert ground_truth([("a", 0, 0), ("b", 0, 1)]) is None  # VisDA target_training: all pid 0
    assert ground_truth([("a", 3, 0), ("b", 5, 1)]).tolist() == [3, 5]


def test_build_clusterer_kinds() -> None:
    km = build_clusterer(PseudoLabelConfig(clustering="kmeans", num_clusters=3), 1, None)
    db = build_clusterer(PseudoLabelConfig(clustering="dbscan", eps="auto"), 1, None)
    assert km.name == "kmeans" and km.n_clusters == 3
    assert db.name == "dbscan" and db.eps == "auto" and db.k1 == 20


def test_kmeans_clusterer_separates_blobs() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8)) * 5
    x = np.concatenate([c + 0.1 * rng.normal(size=(20, 8)) for c in centres]).astype(np.float32)
    km = build_clusterer(PseudoLabelConfig(clustering="kmeans", num_clusters=3,
                                           kmeans_backend="torch"), 1, None)
    res = km.cluster(torch.from_numpy(x))
    labels = np.asarray(res.labels)
    for b in range(3):
        assert len(set(labels[b * 20:(b + 1) * 20])) == 1
    assert res.num_clusters == 3
    # the centroids MMT writes into its classifiers come with the labels: per-cluster means
    for c in range(3):
        np.testing.assert_allclose(res.centroids[c], x[labels == c].mean(0), atol=1e-5)


@pytest.mark.parametrize("bad", [{"clustering": "spectral"}, {"eps": "big"},
                                 {"jaccard_variant": "x"}])
def test_config_errors_name_the_key(bad: dict) -> None:
    from reid_mmt.methods import MMTConfig

    from reid_runner.config import ConfigError

    cfg = MMTConfig(method="mmt", **bad)
    with pytest.raises(ConfigError, match=f"mmt.{next(iter(bad))}"):
        cfg.validate("stages.mmt")
