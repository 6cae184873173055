"""Triplet losses (METHODS §0.5, §7.4, §7.5) on Euclidean distances of a batch."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

_BIG = 9999999.0


def euclidean_dist(x: Tensor, y: Tensor) -> Tensor:
    """``sqrt(clamp(|x|^2 + |y|^2 - 2 x.y, 1e-12))`` for all pairs (the official formula)."""
    xx = x.pow(2).sum(1, keepdim=True)
    yy = y.pow(2).sum(1, keepdim=True).t()
    return (xx + yy - 2.0 * x @ y.t()).clamp(min=1e-12).sqrt()


def _same(labels: Tensor) -> Tensor:
    return labels.view(-1, 1).eq(labels.view(1, -1)).to(torch.float32)


def batch_hard(dist: Tensor, same: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Hardest positive (max distance, self included) and hardest negative (min distance).

    :returns: ``(d_ap, d_an, ap_index, an_index)``.
    """
    d_ap, ap_idx = (dist - _BIG * (1.0 - same)).max(dim=1)
    d_an, an_idx = (dist + _BIG * same).min(dim=1)
    d_ap = dist.gather(1, ap_idx[:, None])[:, 0]
    d_an = dist.gather(1, an_idx[:, None])[:, 0]
    return d_ap, d_an, ap_idx, an_idx


class SoftTripletLoss(nn.Module):
    """Softmax (soft-margin) batch-hard triplet, "SoftTripletLoss(margin=m)".

    ``p = softmax([d_ap, d_an])``; ``L = mean(-m log p_ap - (1 - m) log p_an)``. With ``m = 0``
    (every official script) this is ``log(1 + exp(d_ap - d_an))``.
    """

    name = "soft_triplet"

    def __init__(self, margin: float = 0.0, normalize_feature: bool = False) -> None:
        super().__init__()
        self.margin = float(margin)
        self.normalize_feature = normalize_feature

    def forward(self, features: Tensor, targets: Tensor) -> Tensor:
        if self.normalize_feature:
            features = F.normalize(features)
        d_ap, d_an, _, _ = batch_hard(euclidean_dist(features, features), _same(targets))
        logp = F.log_softmax(torch.stack((d_ap, d_an), 1), dim=1)
        return (-self.margin * logp[:, 0] - (1.0 - self.margin) * logp[:, 1]).mean()


class SoftTripletTeacherLoss(nn.Module):
    """Soft triplet against a teacher ("SoftTripletLoss(margin=None)").

    Hardest positive/negative indices are mined on the *student* distances; the student's
    ``log softmax([d_ap, d_an])`` is matched to the teacher's ``softmax([d'_ap, d'_an])`` at the
    same index pairs (no gradient): ``L = mean_i sum -target * logprob``.
    """

    name = "soft_triplet_teacher"

    def __init__(self, normalize_feature: bool = False) -> None:
        super().__init__()
        self.normalize_feature = normalize_feature

    def forward(self, features: Tensor, teacher_features: Tensor, targets: Tensor) -> Tensor:
        if self.normalize_feature:
            features = F.normalize(features)
            teacher_features = F.normalize(teacher_features)
        d_ap, d_an, ap_idx, an_idx = batch_hard(
            euclidean_dist(features, features), _same(targets)
        )
        logp = F.log_softmax(torch.stack((d_ap, d_an), 1), dim=1)
        with torch.no_grad():
            t = teacher_features.detach()
            dt = euclidean_dist(t, t)
            ref = torch.stack((dt.gather(1, ap_idx[:, None])[:, 0],
                               dt.gather(1, an_idx[:, None])[:, 0]), 1)
            target = F.softmax(ref, dim=1)
        return (-target * logp).sum(1).mean()


class TripletLoss(nn.Module):
    """Batch-hard triplet with a margin: ``mean max(0, d_ap - d_an + margin)`` (AGW ``base``,
    DDAG; margin 0.3)."""

    name = "triplet"

    def __init__(self, margin: float = 0.3, normalize_feature: bool = False) -> None:
        super().__init__()
        self.margin = float(margin)
        self.normalize_feature = normalize_feature

    def forward(self, features: Tensor, targets: Tensor) -> Tensor:
        if self.normalize_feature:
            features = F.normalize(features)
        d_ap, d_an, _, _ = batch_hard(euclidean_dist(features, features), _same(targets))
        return F.relu(d_ap - d_an + self.margin).mean()


def _softmax_weights(dist: Tensor, mask: Tensor) -> Tensor:
    max_v = (dist * mask).max(dim=1, keepdim=True)[0]
    e = torch.exp(dist - max_v) * mask
    return e / (e.sum(dim=1, keepdim=True) + 1e-6)


class WeightedRegularizedTriplet(nn.Module):
    """AGW's weighted regularised triplet (METHODS §7.4), no margin.

    ``d_p = sum_pos softmax_pos(d) d`` (soft furthest positive, self included),
    ``d_n = sum_neg softmax_neg(-d) d`` (soft closest negative);
    ``L = mean log(1 + exp(d_p - d_n))``.
    """

    name = "weighted_triplet"

    def __init__(self, normalize_feature: bool = False) -> None:
        super().__init__()
        self.normalize_feature = normalize_feature

    def forward(self, features: Tensor, targets: Tensor) -> Tensor:
        if self.normalize_feature:
            features = F.normalize(features)
        dist = euclidean_dist(features, features)
        pos = _same(targets)
        neg = 1.0 - pos
        d_ap, d_an = dist * pos, dist * neg
        furthest_pos = (d_ap * _softmax_weights(d_ap, pos)).sum(1)
        closest_neg = (d_an * _softmax_weights(-d_an, neg)).sum(1)
        return F.softplus(furthest_pos - closest_neg).mean()
