"""Losses of MMT, MMT+, PPLR and MMGL/AGW, registered through ``reid_register_losses``."""

from reid_models.losses.classification import CrossEntropyLabelSmooth as CrossEntropyLabelSmooth
from reid_models.losses.classification import SoftEntropy as SoftEntropy
from reid_models.losses.contrastive import CameraProxyContrastiveLoss as CameraProxyContrastiveLoss
from reid_models.losses.contrastive import MoCoLoss as MoCoLoss
from reid_models.losses.sinkhorn import PermutationLoss as PermutationLoss
from reid_models.losses.sinkhorn import permutation_matrix as permutation_matrix
from reid_models.losses.sinkhorn import sinkhorn as sinkhorn
from reid_models.losses.triplet import SoftTripletLoss as SoftTripletLoss
from reid_models.losses.triplet import SoftTripletTeacherLoss as SoftTripletTeacherLoss
from reid_models.losses.triplet import TripletLoss as TripletLoss
from reid_models.losses.triplet import WeightedRegularizedTriplet as WeightedRegularizedTriplet
from reid_models.losses.triplet import batch_hard as batch_hard
from reid_models.losses.triplet import euclidean_dist as euclidean_dist
