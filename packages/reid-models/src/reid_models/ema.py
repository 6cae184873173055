"""Mean teacher (METHODS §0.7, §12.5).

After every optimiser step ``alpha_t = min(1 - 1/(t + 1), alpha)`` with ``t`` the global step
(``epoch * iters + iter``), and ``theta_ema <- alpha_t theta_ema + (1 - alpha_t) theta``. Only
parameters are averaged; the teacher's BN running statistics follow its own train-mode forwards.
The teacher never receives gradients.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


def ema_alpha(step: int, alpha: float) -> float:
    """``min(1 - 1/(step + 1), alpha)``: 0 at step 0, so the teacher starts as the student."""
    return min(1.0 - 1.0 / (step + 1), alpha)


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, alpha: float, step: int) -> float:
    """Average the student's parameters into the teacher's; buffers are left alone.

    Parameters are paired by name (unwrap DDP/DataParallel first); a structural difference
    raises naming the first differing parameter. Returns the ``alpha_t`` used.
    """
    a = ema_alpha(step, alpha)
    t_params = dict(teacher.named_parameters())
    s_params = dict(student.named_parameters())
    if t_params.keys() != s_params.keys():
        diff = sorted(set(t_params) ^ set(s_params))
        raise ValueError(f"ema_update: teacher and student differ in parameters, e.g. {diff[:3]}")
    for name, tp in t_params.items():
        tp.mul_(a).add_(s_params[name].detach(), alpha=1.0 - a)
    return a


class MeanTeacher(nn.Module):
    """An EMA copy of ``student`` with its own step counter (saved in ``state_dict``).

    ``update(student)`` after each optimiser step (``step`` defaults to the internal counter,
    which then advances). The teacher's parameters have ``requires_grad=False``; call
    ``teacher.train()`` to let its BN statistics follow its own forwards, as MMT does.
    """

    step: torch.Tensor

    def __init__(self, student: nn.Module, alpha: float = 0.999) -> None:
        super().__init__()
        self.alpha = float(alpha)
        self.module = copy.deepcopy(student)
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def update(self, student: nn.Module, step: int | None = None) -> float:
        t = int(self.step) if step is None else int(step)
        a = ema_update(self.module, student, self.alpha, t)
        self.step.fill_(t + 1)
        return a

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)
