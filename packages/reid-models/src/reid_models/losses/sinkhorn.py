"""Sinkhorn normalisation and the permutation-recovery loss of MMGL (METHODS §7.2,
reconstruction: 20 iterations of alternating row/column normalisation, MSE to the ground-truth
permutation matrix)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def sinkhorn(logits: Tensor, iterations: int = 20) -> Tensor:
    """Doubly-stochastic matrix from ``[B, N, N]`` logits: normalise the rows, then the columns,
    of ``exp(logits)``, ``iterations`` times (computed in log space, identical in exact
    arithmetic and stable for large logits)."""
    log_alpha = logits
    for _ in range(iterations):
        log_alpha = log_alpha - torch.logsumexp(log_alpha, dim=-1, keepdim=True)
        log_alpha = log_alpha - torch.logsumexp(log_alpha, dim=-2, keepdim=True)
    return log_alpha.exp()


def permutation_matrix(perm: Tensor) -> Tensor:
    """``[B, N]`` permutations to ``[B, N, N]`` matrices with ``P[b, i, perm[b, i]] = 1``:
    row ``i`` is the position in the shuffled image, column the original stripe index."""
    return F.one_hot(perm.long(), perm.size(-1)).to(torch.float32)


class PermutationLoss(nn.Module):
    """``MSE(sinkhorn(logits), P)``: ``logits`` ``[B, N*N]`` or ``[B, N, N]``; ``target`` the
    ``[B, N]`` permutation (``shuffled_stripe[i] = stripe[perm[i]]``) or its ``[B, N, N]``
    matrix. Mean over all ``B*N*N`` entries."""

    name = "permutation"

    def __init__(self, iterations: int = 20) -> None:
        super().__init__()
        self.iterations = int(iterations)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        if logits.dim() == 2:
            n = int(round(logits.size(1) ** 0.5))
            if n * n != logits.size(1):
                raise ValueError(f"permutation logits must have N*N columns, got {logits.size(1)}")
            logits = logits.view(-1, n, n)
        p_true = permutation_matrix(target) if target.dim() == 2 else target
        return F.mse_loss(sinkhorn(logits, self.iterations), p_true.to(logits.dtype))

    @staticmethod
    def accuracy(logits: Tensor, target: Tensor) -> Tensor:
        """Fraction of stripes whose original index is recovered (argmax per row)."""
        n = int(round(logits.size(-1) ** 0.5)) if logits.dim() == 2 else logits.size(-1)
        pred = logits.reshape(-1, n, n).argmax(-1)
        return (pred == target.long()).float().mean()
