"""PPLR's two refinement losses (METHODS §6.3): part-guided label refinement and
agreement-aware label smoothing.

Both are registered as reid-models losses (``pglr``, ``aals``) by this plugin's
``reid_register_losses`` hook, so ``reid_models.create_loss("pglr", pm=pm)`` finds them once the
plugin is loaded. The camera-aware proxy loss of PPLR-cam is reid-models'
``camera_proxy_contrastive``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def refined_targets(logits_p: Tensor, targets: Tensor, scores: Tensor, beta: float) -> Tensor:
    """PGLR's refined global targets ``[B, C]``.

    ``w_i = softmax_p(c_{i,p})`` (raw cross-agreement scores, no temperature);
    ``y^_i = beta * onehot(y_i) + (1 - beta) * sum_p w_{i,p} softmax(z_{p,i})`` with the part
    ensemble detached.

    Args:
        logits_p: part logits ``[B, C, P]`` (already sliced to the active classes).
        targets: pseudo labels ``[B]``.
        scores: cross-agreement scores ``[B, P]``.
        beta: weight of the hard label.
    """
    onehot = torch.zeros_like(logits_p[:, :, 0]).scatter_(1, targets.long().unsqueeze(1), 1.0)
    w = torch.softmax(scores.to(logits_p.dtype), dim=1).unsqueeze(1)  # [B, 1, P]
    ensemble = (F.softmax(logits_p, dim=1) * w).sum(2).detach()  # [B, C]
    return beta * onehot + (1.0 - beta) * ensemble


class PGLRLoss(nn.Module):
    """Part-guided label refinement for the global classifier (METHODS §6.3, beta = 0.5):
    ``L = mean_i sum_c -y^_{i,c} log softmax(z_{g,i})_c`` with :func:`refined_targets`.

    ``forward(logits_g [B, C], logits_p [B, C, P], targets [B], scores [B, P])``.
    """

    name = "pglr"

    def __init__(self, beta: float = 0.5) -> None:
        super().__init__()
        self.beta = float(beta)

    def forward(self, logits_g: Tensor, logits_p: Tensor, targets: Tensor,
                scores: Tensor) -> Tensor:
        q = refined_targets(logits_p, targets, scores, self.beta)
        return (-q * F.log_softmax(logits_g, dim=1)).sum(1).mean()

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


class AALSLoss(nn.Module):
    """Agreement-aware label smoothing for one part classifier (METHODS §6.3):
    ``L = mean_i [c_i (-log p_{i,y_i}) + (1 - c_i) KL(u || p_i)]``, ``p_i = softmax(z_i)``,
    ``u`` uniform over the active classes (the width of the logits).

    ``forward(logits [B, C], targets [B], scores [B])`` with the part's cross-agreement scores.
    """

    name = "aals"

    def forward(self, logits: Tensor, targets: Tensor, scores: Tensor) -> Tensor:
        log_p = F.log_softmax(logits, dim=1)
        ce = -log_p.gather(1, targets.long().unsqueeze(1)).squeeze(1)
        c = log_p.size(1)
        # KL(u || p) = sum_c u_c (log u_c - log p_c), u_c = 1/C
        kl = (-torch.log(torch.tensor(float(c), dtype=log_p.dtype, device=log_p.device))
              - log_p.mean(1))
        s = scores.to(log_p.dtype)
        return (s * ce + (1.0 - s) * kl).mean()
