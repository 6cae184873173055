"""Domain-specific BN: conversion, routing, statistics, collapse."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import reid_models as rm


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4, momentum=1.0), nn.ReLU(),
                         nn.Flatten(1), nn.Linear(4 * 4, 5), nn.BatchNorm1d(5, momentum=1.0))


def test_convert_copies_and_routes_halves() -> None:
    net = _net()
    net[1].weight.data.fill_(2.0)
    net[5].bias.requires_grad_(False)
    rm.convert_dsbn(net)
    assert isinstance(net[1], rm.DSBN2d) and isinstance(net[5], rm.DSBN1d)
    assert float(net[1].source.weight[0].detach()) == 2.0 == float(net[1].target.weight[0].detach())
    assert not net[5].source.bias.requires_grad and not net[5].target.bias.requires_grad
    dsbn = net[1]
    xs = torch.randn(2, 4, 2, 2) + 5.0
    xt = torch.randn(2, 4, 2, 2) - 5.0
    ref_s, ref_t = nn.BatchNorm2d(4), nn.BatchNorm2d(4)
    ref_s.weight.data.fill_(2.0)
    ref_t.weight.data.fill_(2.0)
    out = dsbn.train()(torch.cat((xs, xt)))
    torch.testing.assert_close(out[:2], ref_s(xs))
    torch.testing.assert_close(out[2:], ref_t(xt))
    # statistics: momentum 1, so running stats are exactly each half's batch statistics
    torch.testing.assert_close(dsbn.source.running_mean, xs.mean((0, 2, 3)))
    torch.testing.assert_close(dsbn.target.running_mean, xt.mean((0, 2, 3)))
    torch.testing.assert_close(dsbn.target.running_var, xt.var((0, 2, 3), unbiased=True))
    # eval: the target branch only
    dsbn.eval()
    x = torch.randn(3, 4, 2, 2)
    torch.testing.assert_close(dsbn(x), dsbn.target(x))


def test_odd_batch_and_domain_override() -> None:
    net = rm.convert_dsbn(_net()).train()
    with pytest.raises(ValueError, match="even batch"):
        net(torch.randn(3, 3, 2, 2))
    rm.set_dsbn_domain(net, "target")
    before = net[1].source.running_mean.clone()
    net(torch.randn(3, 3, 2, 2))
    torch.testing.assert_close(net[1].source.running_mean, before)
    with pytest.raises(ValueError, match="mixed"):
        rm.set_dsbn_domain(net, "both")


def test_collapse_gives_plain_bn_with_branch_statistics() -> None:
    net = rm.convert_dsbn(_net()).train()
    net(torch.cat((torch.randn(4, 3, 2, 2) + 3, torch.randn(4, 3, 2, 2) - 3)))
    net.eval()
    x = torch.randn(5, 3, 2, 2)
    with torch.no_grad():
        expected = net(x)
    target_mean = net[1].target.running_mean.clone()
    source_mean = net[1].source.running_mean.clone()
    rm.collapse_dsbn(net)
    assert type(net[1]) is nn.BatchNorm2d and type(net[5]) is nn.BatchNorm1d
    torch.testing.assert_close(net[1].running_mean, target_mean)
    with torch.no_grad():
        torch.testing.assert_close(net(x), expected)
    assert not any("source" in k or "target" in k for k in net.state_dict())
    other = rm.convert_dsbn(_net())
    other.train()(torch.cat((torch.randn(4, 3, 2, 2) + 3, torch.randn(4, 3, 2, 2) - 3)))
    src = other[1].source.running_mean.clone()
    rm.collapse_dsbn(other, branch="source")
    torch.testing.assert_close(other[1].running_mean, src)
    assert not torch.allclose(source_mean, target_mean)
    with pytest.raises(ValueError, match="target"):
        rm.collapse_dsbn(other, branch="middle")


def test_dsbn_on_a_reid_model(pm) -> None:
    model = rm.create_model("resnet18", num_classes=3, pm=pm)
    n_bn = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    rm.convert_dsbn(model)
    assert sum(isinstance(m, (rm.DSBN1d, rm.DSBN2d)) for m in model.modules()) == n_bn
    model.train()
    out = model(torch.randn(4, 3, 64, 32))
    out["logits"].sum().backward()
    model.eval()
    x = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        before = model(x)
        rm.collapse_dsbn(model)
        torch.testing.assert_close(model(x), before)
    keys = set(model.state_dict())
    assert keys == set(rm.create_model("resnet18", num_classes=3, pm=pm).state_dict())
