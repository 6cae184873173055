"""The BN-batch setting: ghost BN, SyncBN groups, and the chooser."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import reid_models as rm


def test_ghost_bn_normalises_each_sub_batch() -> None:
    bn = rm.GhostBatchNorm2d(3, ghost_batch=2)
    bn.weight.data = torch.tensor([1.0, 2.0, 3.0])
    bn.bias.data = torch.tensor([0.0, 1.0, -1.0])
    x = torch.randn(6, 3, 4, 2) * 3 + 1
    out = bn.train()(x)
    ref = torch.cat([F.batch_norm(c, None, None, bn.weight, bn.bias, training=True)
                     for c in x.split(2)])
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # running stats: one momentum step with the mean of the sub-batch statistics
    chunks = x.split(2)
    mean = torch.stack([c.mean((0, 2, 3)) for c in chunks]).mean(0)
    var = torch.stack([c.var((0, 2, 3), unbiased=True) for c in chunks]).mean(0)
    torch.testing.assert_close(bn.running_mean, 0.1 * mean)
    torch.testing.assert_close(bn.running_var, 0.9 + 0.1 * var)
    assert int(bn.num_batches_tracked) == 1
    bn.eval()
    torch.testing.assert_close(bn(x), F.batch_norm(x, bn.running_mean, bn.running_var,
                                                   bn.weight, bn.bias, training=False))
    with pytest.raises(ValueError, match="multiple"):
        bn.train()(torch.randn(5, 3, 2, 2))


def test_ghost_bn_1d_and_gradients() -> None:
    bn = rm.GhostBatchNorm1d(4, ghost_batch=4)
    x = torch.randn(8, 4, requires_grad=True)
    out = bn.train()(x)
    ref = torch.cat([F.batch_norm(c, None, None, training=True) for c in x.split(4)])
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    out.pow(2).sum().backward()
    assert x.grad is not None and bn.weight.grad is not None


def test_convert_ghost_keeps_weights_and_frozen_bias(pm) -> None:
    model = rm.create_model("resnet18", num_classes=3, pm=pm)
    keys = set(model.state_dict())
    x = torch.randn(4, 3, 64, 32)
    model.train()
    with torch.no_grad():
        plain = model(x)["bn"]
    model = rm.create_model("resnet18", num_classes=3, pm=pm)
    torch.manual_seed(0)
    ref_model = rm.create_model("resnet18", num_classes=3, pm=pm)
    model.load_state_dict(ref_model.state_dict())
    rm.convert_ghost_bn(model, 4)
    assert set(model.state_dict()) == keys
    assert isinstance(model.backbone.bn1, rm.GhostBatchNorm2d)
    assert isinstance(model.head.feat_bn, rm.GhostBatchNorm1d)
    assert not model.head.feat_bn.bias.requires_grad
    ref_model.train()
    model.train()
    with torch.no_grad():  # batch == ghost batch: identical to plain BN
        torch.testing.assert_close(model(x)["bn"], ref_model(x)["bn"], atol=1e-4, rtol=1e-4)
    assert plain.shape == (4, 512)


def test_configure_bn_batch_chooses() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    assert rm.configure_bn_batch(net, 16, 16) is net and type(net[1]) is nn.BatchNorm2d
    rm.configure_bn_batch(net, 16, 64)
    assert isinstance(net[1], rm.GhostBatchNorm2d) and net[1].ghost_batch == 16
    with pytest.raises(ValueError, match="multiple"):
        rm.configure_bn_batch(nn.Sequential(nn.BatchNorm2d(2)), 16, 40)
    with pytest.raises(ValueError, match="world size is 1"):
        rm.configure_bn_batch(nn.Sequential(nn.BatchNorm2d(2)), 64, 16, world_size=1)
    assert rm.sync_bn_group_ranks(4, 2) == [[0, 1], [2, 3]]
    with pytest.raises(ValueError, match="does not divide"):
        rm.sync_bn_group_ranks(6, 4)


def test_convert_sync_bn_picks_this_ranks_group(monkeypatch) -> None:
    import torch.distributed as dist

    created: list[list[int]] = []

    def new_group(ranks: list[int]) -> tuple[int, ...]:
        created.append(ranks)
        return tuple(ranks)

    # rank 2 of 4, BN batch 32 over devices of 16: groups {0,1} and {2,3}; every rank creates
    # every group (new_group is collective) and keeps its own.
    monkeypatch.setattr(dist, "get_world_size", lambda: 4)
    monkeypatch.setattr(dist, "get_rank", lambda: 2)
    monkeypatch.setattr(dist, "new_group", new_group)
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    net = rm.configure_bn_batch(net, bn_batch=32, device_batch=16, world_size=4)
    assert isinstance(net[1], nn.SyncBatchNorm)
    assert net[1].process_group == (2, 3)
    assert created == [[0, 1], [2, 3]]


def test_convert_sync_bn_single_process_world() -> None:
    import torch.distributed as dist

    with tempfile.TemporaryDirectory() as tmp:
        dist.init_process_group("gloo", init_method=f"file://{os.path.join(tmp, 's')}",
                                rank=0, world_size=1)
        try:
            net = rm.convert_sync_bn(nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)), 1)
            assert isinstance(net[1], nn.SyncBatchNorm) and net[1].process_group is None
        finally:
            dist.destroy_process_group()
