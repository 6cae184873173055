"""Backbone-specific structure: strides, MMT's stem, IBN key names, two-stream, non-local."""

from __future__ import annotations

import pytest
import torch

import reid_models as rm
from reid_models.backbones.two_stream import NonLocal


def test_last_stride_and_mmt_stem(pm) -> None:
    x = torch.randn(2, 3, 64, 32)
    bb = rm.create_backbone("resnet18", pm=pm).eval()
    assert bb(x).shape[2:] == (4, 2)
    assert rm.create_backbone("resnet18", last_stride=2, pm=pm).eval()(x).shape[2:] == (2, 1)
    seen = {}
    for relu in (True, False):
        net = rm.create_backbone("resnet18", stem_relu=relu, pm=pm).eval()
        net.maxpool.register_forward_hook(lambda m, i, o, r=relu: seen.__setitem__(r, o))
        net(x)
    assert float(seen[True].detach().min()) >= 0.0 and float(seen[False].detach().min()) < 0.0
    with pytest.raises(ValueError, match="last_stride"):
        rm.create_backbone("resnet18", last_stride=3, pm=pm)


@pytest.mark.slow
def test_resnest_last_stride_option(pm) -> None:
    x = torch.randn(2, 3, 64, 32)
    bb = rm.create_backbone("resnest50", last_stride=1, pm=pm).eval()
    assert bb(x).shape[2:] == (4, 2)
    assert set(bb.state_dict()) == set(rm.create_backbone("resnest50", pm=pm).state_dict())


def test_ibn_a_and_b_key_names(pm) -> None:
    a = rm.create_backbone("resnet50_ibn_a", pm=pm)
    keys = set(a.state_dict())
    assert {"layer1.0.bn1.IN.weight", "layer1.0.bn1.BN.running_mean",
            "layer3.5.bn1.IN.bias", "layer4.0.bn1.running_mean"} <= keys
    assert "layer4.0.bn1.IN.weight" not in keys
    assert a.layer1[0].bn1.IN.num_features == 32 and a.layer1[0].bn1.BN.num_features == 32
    b = rm.create_backbone("resnet50_ibn_b", pm=pm)
    keys = set(b.state_dict())
    assert isinstance(b.bn1, torch.nn.InstanceNorm2d) and "bn1.running_mean" not in keys
    assert {"layer1.2.IN.weight", "layer2.3.IN.weight"} <= keys
    assert "layer1.0.IN.weight" not in keys and "layer3.5.IN.weight" not in keys


@pytest.mark.slow
def test_resnext_and_densenet_ibn_structure(pm) -> None:
    x = rm.create_backbone("resnext101_ibn_a", pm=pm)
    assert hasattr(x, "maxpool1") and x.layer1[0].conv2.groups == 32
    assert x.layer1[0].bn1.IN.num_features == 64  # width 128, half instance-normalised
    assert len(x.layer3) == 23
    d = rm.create_backbone("densenet169_ibn_a", pm=pm)
    keys = set(d.state_dict())
    assert {"features.denseblock1.denselayer1.norm1.BN.weight",
            "features.denseblock1.denselayer1.norm1.IN.weight",
            "features.denseblock1.denselayer2.norm1.weight",
            "features.denseblock3.denselayer31.norm1.BN.weight",
            "features.norm5.running_var"} <= keys
    assert "features.denseblock4.denselayer1.norm1.IN.weight" not in keys
    norm1 = d.features.denseblock1.denselayer1.norm1  # 64 channels: 38 BN first, 26 IN last
    assert (norm1.BN.num_features, norm1.IN.num_features) == (38, 26)
    assert d.feature_dim == 1664


def test_two_stream_modalities(pm) -> None:
    bb = rm.create_backbone("resnet50_two_stream", pm=pm).eval()
    xv, xt = torch.randn(2, 3, 64, 32), torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        v, t = bb(xv, modality="visible"), bb(xt, modality="thermal")
        both = bb((xv, xt), modality="both")
        torch.testing.assert_close(both, torch.cat((v, t)))
        torch.testing.assert_close(bb(torch.cat((xv, xt)), modality="both"), both)
        assert not torch.allclose(bb(xv, modality="thermal"), v)
    with pytest.raises(ValueError, match="modality"):
        bb(xv)
    with pytest.raises(ValueError, match="choices"):
        bb(xv, modality="depth")
    keys = set(bb.state_dict())
    assert {"visible_module.visible.conv1.weight", "thermal_module.thermal.bn1.running_mean",
            "base_resnet.base.layer4.2.conv3.weight"} <= keys
    assert not any(k.startswith("NL_") for k in keys)


def test_two_stream_non_local(pm) -> None:
    bb = rm.create_backbone("resnet50_two_stream", non_local=True, pm=pm)
    assert len(bb.NL_2) == 2 and len(bb.NL_3) == 3
    assert bb.NL_2[0].inter_channels == 1  # AGW quirk: reduc_ratio // reduc_ratio
    assert {"NL_2.1.g.0.weight", "NL_3.2.W.1.running_mean", "NL_3.0.theta.weight"} <= set(
        bb.state_dict())
    # zero-initialised output BN: a fresh block is the identity
    nl = NonLocal(8).eval()
    x = torch.randn(2, 8, 4, 2)
    torch.testing.assert_close(nl(x), x)
    # the blocks sit after layer2 blocks 2, 3 and layer3 blocks 3, 4, 5
    calls: list[str] = []
    for i, blk in enumerate(bb.base_resnet.base.layer2):
        blk.register_forward_hook(lambda *a, i=i: calls.append(f"l2.{i}"))
    for i, nl_block in enumerate(bb.NL_2):
        nl_block.register_forward_hook(lambda *a, i=i: calls.append(f"NL_2.{i}"))
    bb.eval()(torch.randn(2, 3, 64, 32), modality="visible")
    assert calls == ["l2.0", "l2.1", "l2.2", "NL_2.0", "l2.3", "NL_2.1"]
