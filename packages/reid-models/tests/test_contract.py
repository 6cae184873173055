"""Contract test over every registered architecture: build on CPU, train/eval forwards at
64x32 (batch 4), feature sizes, eval normalisation, a backward pass."""

from __future__ import annotations

import pytest
import torch

import reid_models as rm

#: Expected BN-feature size per architecture; a new built-in must be added here.
FEATURE_DIMS = {
    "resnet18": 512, "resnet34": 512, "resnet18part": 512,
    "resnet50": 2048, "resnet101": 2048, "resnet50part": 2048,
    "resnet50_ibn_a": 2048, "resnet50_ibn_b": 2048, "resnet101_ibn_a": 2048,
    "resnext101_ibn_a": 2048, "densenet169_ibn_a": 1664,
    "resnest50": 2048, "resnest101": 2048, "resnet50_two_stream": 2048,
    "resnet_mini": 256, "resnet_minipart": 256,
}
#: Feature-map size at 64x32 input (last stride 1 by default; ResNeSt keeps 2; DenseNet /32).
MAP_SIZES = {"resnet_mini": (8, 4), "resnet_minipart": (8, 4), "resnest50": (2, 1), "resnest101": (2, 1), "densenet169_ibn_a": (2, 1)}
SLOW = {"resnet101", "resnest101", "resnext101_ibn_a", "densenet169_ibn_a", "resnet101_ibn_a"}

ARCHS = [pytest.param(a, marks=pytest.mark.slow) if a in SLOW else a
         for a in sorted(FEATURE_DIMS)]


def test_every_registered_arch_is_covered(pm) -> None:
    assert set(rm.list_models(pm)) == set(FEATURE_DIMS)


@pytest.mark.parametrize("arch", ARCHS)
def test_architecture_contract(arch: str, pm) -> None:
    num_classes = 6
    model = rm.create_model(arch, num_classes=num_classes, pm=pm)
    assert isinstance(model, rm.ReidModel)
    kwargs = dict(type(model.backbone).forward_kwargs)
    dim = FEATURE_DIMS[arch]
    assert model.feature_dim == dim == model.backbone.feature_dim
    x = torch.randn(4, 3, 64, 32)
    labels = torch.tensor([0, 0, 1, 1])

    model.train()
    out = model(x, labels=labels, **kwargs)
    assert out["pooled"].shape == (4, dim)
    assert out["bn"].shape == (4, dim)
    assert out["logits"].shape == (4, num_classes)
    loss = torch.nn.functional.cross_entropy(out["logits"], labels) + out["pooled"].mean()
    if "part_logits" in out:
        assert out["part_logits"].shape == (4, num_classes, 3)
        assert out["part_bn"].shape == (4, dim, 3)
        loss = loss + out["part_logits"].mean()
    loss.backward()
    first_conv = next(p for n, p in model.backbone.named_parameters() if p.dim() == 4)
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0
    assert model.head.feat_bn.bias.grad is None  # BNNeck bias frozen
    fmap = model.forward_features(x, **kwargs)
    assert fmap.shape[:2] == (4, dim)
    assert tuple(fmap.shape[2:]) == MAP_SIZES.get(arch, (4, 2))

    model.eval()
    with torch.no_grad():
        feat = model(x, **kwargs)
    assert feat.shape == (4, dim)
    torch.testing.assert_close(feat.norm(dim=1), torch.ones(4))


def test_resnet_mini_options() -> None:
    net = rm.create_model("resnet_mini", num_classes=3, pretrained=None, widths=(8, 16, 24, 40),
                          blocks=(1, 2, 1, 1), last_stride=2)
    assert net.backbone.feature_dim == 40
    assert len(net.backbone.layer2) == 2
    assert net.backbone(torch.zeros(2, 3, 64, 32)).shape == (2, 40, 4, 2)
    with pytest.raises(ValueError, match="widths and blocks need 4"):
        rm.create_model("resnet_mini", num_classes=3, pretrained=None, blocks=(1, 1))
