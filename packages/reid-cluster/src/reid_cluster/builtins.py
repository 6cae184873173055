"""Built-in registrations of reid-cluster, through the same hooks as third-party plugins."""

from __future__ import annotations

from typing import Any

from reid_plugin import hookimpl


@hookimpl
def reid_register_knn_backends() -> list[type[Any]]:
    from reid_cluster.knn import FaissFlatKnn, FaissIvfKnn, TorchKnn

    return [TorchKnn, FaissFlatKnn, FaissIvfKnn]


@hookimpl
def reid_register_clusterers() -> list[type[Any]]:
    from reid_cluster.clusterers import DBSCANClusterer, KMeansClusterer

    return [DBSCANClusterer, KMeansClusterer]
