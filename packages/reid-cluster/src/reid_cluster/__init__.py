"""reid-cluster: kNN backends, sparse k-reciprocal Jaccard distance, clusterers, telemetry."""

from reid_cluster._version import __version__ as __version__
from reid_cluster.agreement import cross_agreement as cross_agreement
from reid_cluster.agreement import neighbour_set_jaccard as neighbour_set_jaccard
from reid_cluster.clusterers import DBSCANClusterer as DBSCANClusterer
from reid_cluster.clusterers import KMeansClusterer as KMeansClusterer
from reid_cluster.clusterers import clusterer_registry as clusterer_registry
from reid_cluster.clusterers import create_clusterer as create_clusterer
from reid_cluster.clusterers import list_clusterers as list_clusterers
from reid_cluster.clusterers import mmt_eps as mmt_eps
from reid_cluster.distributed import compute_and_broadcast as compute_and_broadcast
from reid_cluster.distributed import distributed_cluster as distributed_cluster
from reid_cluster.jaccard import jaccard_distance as jaccard_distance
from reid_cluster.knn import FaissFlatKnn as FaissFlatKnn
from reid_cluster.knn import FaissIvfKnn as FaissIvfKnn
from reid_cluster.knn import TorchKnn as TorchKnn
from reid_cluster.knn import create_knn_backend as create_knn_backend
from reid_cluster.knn import knn as knn
from reid_cluster.knn import knn_backend_registry as knn_backend_registry
from reid_cluster.knn import list_knn_backends as list_knn_backends
from reid_cluster.kreciprocal import jaccard_from_encoding as jaccard_from_encoding
from reid_cluster.kreciprocal import k_reciprocal_encoding as k_reciprocal_encoding
from reid_cluster.kreciprocal import k_reciprocal_sets as k_reciprocal_sets
from reid_cluster.synthetic import clustered_features as clustered_features
from reid_cluster.telemetry import PseudoLabels as PseudoLabels
from reid_cluster.telemetry import cluster_telemetry as cluster_telemetry
from reid_cluster.telemetry import label_churn as label_churn
