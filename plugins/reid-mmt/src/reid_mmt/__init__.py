"""reid-mmt: Mutual Mean-Teaching and the clustering baselines (METHODS §1)."""

from reid_mmt._version import __version__ as __version__
from reid_mmt.methods import MMT as MMT
from reid_mmt.methods import ClusterBaseline as ClusterBaseline
from reid_mmt.methods import MMTConfig as MMTConfig
from reid_mmt.pseudo import PseudoLabelConfig as PseudoLabelConfig
