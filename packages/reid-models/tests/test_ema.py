"""Mean teacher: the warm-up rule of METHODS §0.7, parameters only."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import reid_models as rm


def _pair() -> tuple[nn.Module, nn.Module]:
    student = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    teacher = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    return student, teacher


def test_alpha_rule() -> None:
    assert rm.ema_alpha(0, 0.999) == 0.0
    assert rm.ema_alpha(1, 0.999) == 0.5
    assert rm.ema_alpha(9, 0.999) == pytest.approx(0.9)
    assert rm.ema_alpha(10_000, 0.999) == 0.999


def test_update_averages_parameters_not_buffers() -> None:
    student, teacher = _pair()
    teacher[1].running_mean.fill_(7.0)
    s0 = student[0].weight.detach().clone()
    t0 = teacher[0].weight.detach().clone()
    a = rm.ema_update(teacher, student, alpha=0.999, step=3)  # alpha_t = 0.75
    assert a == pytest.approx(0.75)
    torch.testing.assert_close(teacher[0].weight, 0.75 * t0 + 0.25 * s0)
    torch.testing.assert_close(teacher[1].running_mean, torch.full((2,), 7.0))
    rm.ema_update(teacher, student, alpha=0.999, step=0)  # step 0: copy of the student
    torch.testing.assert_close(teacher[0].weight, s0)


def test_mean_teacher_counter_and_state() -> None:
    student, _ = _pair()
    mt = rm.MeanTeacher(student, alpha=0.5)
    assert not any(p.requires_grad for p in mt.module.parameters())
    with torch.no_grad():
        student[0].weight.add_(1.0)
    assert mt.update(student) == 0.0  # step 0
    torch.testing.assert_close(mt.module[0].weight, student[0].weight)
    with torch.no_grad():
        student[0].weight.add_(1.0)
    before = mt.module[0].weight.clone()
    assert mt.update(student) == 0.5  # min(1 - 1/2, 0.5)
    torch.testing.assert_close(mt.module[0].weight, 0.5 * before + 0.5 * student[0].weight)
    assert int(mt.state_dict()["step"]) == 2
    mt.train()
    out = mt(torch.randn(4, 3))
    assert out.shape == (4, 2)


def test_structure_mismatch_is_named() -> None:
    with pytest.raises(ValueError, match="differ"):
        rm.ema_update(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)), 0.9, 5)
