from __future__ import annotations

from pathlib import Path

import pytest

import reid_cluster
from reid_cluster import hookspecs
from reid_plugin import DuplicateNameError, hookimpl, make_plugin_manager
from reid_plugin.testing import (
    assert_hooks_documented,
    assert_hooks_have_docstrings,
    assert_hooks_tested,
)

HERE = Path(__file__).parent
README = HERE.parent / "README.md"


def test_hooks_documented_in_readme():
    text = README.read_text()
    assert "## Hook reference" in text
    assert_hooks_documented(hookspecs, text.split("## Hook reference", 1)[1])


def test_hooks_have_docstrings():
    assert_hooks_have_docstrings(hookspecs)


def test_hooks_tested():
    assert_hooks_tested(hookspecs, HERE)


def test_hook_reid_register_knn_backends():
    assert {"torch", "faiss-flat", "faiss-ivf"} <= set(reid_cluster.list_knn_backends())

    class EchoKnn:
        name = "echo"

        def search(self, database, k, queries=None, exclude_self=False):
            import numpy as np

            n = len(database)
            return np.zeros((n, k), np.float32), np.tile(np.arange(k), (n, 1))

    class Plugin:
        @hookimpl
        def reid_register_knn_backends(self):
            return [EchoKnn]

    pm = make_plugin_manager([Plugin()])
    reg = reid_cluster.knn_backend_registry(pm)
    assert "echo" in reg and "torch" in reg
    _, idx = reid_cluster.knn([[0.0], [1.0]], 2, "echo", pm=pm)
    assert idx.tolist() == [[0, 1], [0, 1]]

    class Dup:
        @hookimpl
        def reid_register_knn_backends(self):
            return [type("T", (), {"name": "torch"})]

    with pytest.raises(DuplicateNameError, match="torch"):
        reid_cluster.knn_backend_registry(make_plugin_manager([Dup()]))


def test_hook_reid_register_clusterers():
    assert {"dbscan", "kmeans"} <= set(reid_cluster.list_clusterers())

    class AllOne:
        name = "all-one"

        def cluster(self, features=None, distance=None, *, previous=None, ground_truth=None):
            import numpy as np

            from reid_cluster.telemetry import make_pseudo_labels

            return make_pseudo_labels(np.zeros(len(features), np.int64), features)

    class Plugin:
        @hookimpl
        def reid_register_clusterers(self):
            return [AllOne]

    pm = make_plugin_manager([Plugin()])
    res = reid_cluster.create_clusterer("all-one", pm=pm).cluster([[0.0], [2.0]])
    assert res.num_clusters == 1 and res.centroids.tolist() == [[1.0]]

    class Dup:
        @hookimpl
        def reid_register_clusterers(self):
            return [type("D", (), {"name": "dbscan"})]

    with pytest.raises(DuplicateNameError, match="dbscan"):
        reid_cluster.clusterer_registry(make_plugin_manager([Dup()]))
