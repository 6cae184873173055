"""Classification losses (METHODS §0.5): label-smoothed CE and soft (teacher) CE."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class CrossEntropyLabelSmooth(nn.Module):
    """Cross-entropy with label smoothing over the *active* classes.

    ``q = (1 - eps) * onehot(y) + eps / C``; ``L = mean_i sum_c -q_c log softmax(z_i)_c`` where
    ``C`` is the width of the logits after slicing to ``num_classes`` (the active classes, e.g.
    the current number of clusters). ``epsilon=0`` is plain cross-entropy.
    """

    name = "cross_entropy"

    def __init__(self, epsilon: float = 0.1) -> None:
        super().__init__()
        self.epsilon = float(epsilon)

    def forward(self, logits: Tensor, targets: Tensor, num_classes: int | None = None) -> Tensor:
        if num_classes is not None:
            logits = logits[:, :num_classes]
        log_probs = F.log_softmax(logits, dim=1)
        q = torch.zeros_like(log_probs).scatter_(1, targets.long().unsqueeze(1), 1.0)
        q = (1.0 - self.epsilon) * q + self.epsilon / logits.size(1)
        return (-q * log_probs).sum(1).mean()


class SoftEntropy(nn.Module):
    """Soft cross-entropy ``mean_i sum_c -softmax(z_teacher)_c log softmax(z_student)_c``;
    the teacher is detached."""

    name = "soft_cross_entropy"

    def forward(self, student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
        target = F.softmax(teacher_logits.detach(), dim=1)
        return (-target * F.log_softmax(student_logits, dim=1)).sum(1).mean()
