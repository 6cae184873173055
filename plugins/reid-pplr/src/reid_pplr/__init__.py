"""reid-pplr: Part-based Pseudo Label Refinement, with and without camera labels (METHODS §6)."""

from reid_pplr._version import __version__ as __version__
from reid_pplr.labels import CameraProxies as CameraProxies
from reid_pplr.labels import agreement_scores as agreement_scores
from reid_pplr.labels import camera_proxies as camera_proxies
from reid_pplr.labels import centroids as centroids
from reid_pplr.losses import AALSLoss as AALSLoss
from reid_pplr.losses import PGLRLoss as PGLRLoss
from reid_pplr.losses import refined_targets as refined_targets
from reid_pplr.method import PPLR as PPLR
from reid_pplr.method import PPLRConfig as PPLRConfig
from reid_pplr.method import load_init as load_init
from reid_pplr.method import resolve_arch as resolve_arch
