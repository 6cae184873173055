"""Pooling, BNNeck, classifiers, margin heads, and the model's head API."""

from __future__ import annotations

import math

import pytest
import torch

import reid_models as rm
from reid_models.heads import GeM, MarginHead, make_pooling


def test_gem_values() -> None:
    x = torch.full((2, 3, 4, 2), 2.0)
    torch.testing.assert_close(GeM()(x), torch.full((2, 3), 2.0))
    y = torch.rand(2, 3, 4, 2)
    torch.testing.assert_close(GeM(p=1.0, learnable=False)(y), y.mean(dim=(2, 3)))
    cube = (y.pow(3).mean(dim=(2, 3))).pow(1 / 3)
    torch.testing.assert_close(GeM()(y), cube)
    neg = -torch.ones(1, 1, 2, 2)  # clamped to eps 1e-6
    torch.testing.assert_close(GeM()(neg), torch.full((1, 1), 1e-6))
    agw = make_pooling("gem_fixed")
    assert not any(True for _ in agw.parameters())
    torch.testing.assert_close(agw(y), (y.flatten(2).pow(3).mean(-1) + 1e-12).pow(1 / 3))
    with pytest.raises(ValueError, match="avg"):
        make_pooling("median")


def test_learnable_gem_p_is_a_parameter(pm) -> None:
    m = rm.create_model("resnet18", pooling="gem", pm=pm)
    names = dict(m.named_parameters())
    assert "head.pool.p" in names and float(names["head.pool.p"].detach()) == 3.0


def _angle(theta: float) -> torch.Tensor:
    return torch.tensor([[math.cos(theta), math.sin(theta)]])


def test_arcface_hand_case() -> None:
    head = MarginHead(2, 2, "arc", scale=2.0, margin=0.3)
    head.weight.data = torch.tensor([[1.0, 0.0], [0.0, 5.0]])  # normalised inside
    out = head(_angle(0.5) * 3, torch.tensor([0]))
    torch.testing.assert_close(out, torch.tensor([[2 * math.cos(0.8), 2 * math.sin(0.5)]]))
    # theta + m beyond pi: fallback s * (cos - m * sin(pi - m))
    out = head(_angle(3.0), torch.tensor([0]))
    expected0 = 2 * (math.cos(3.0) - 0.3 * math.sin(math.pi - 0.3))
    torch.testing.assert_close(out[0, 0], torch.tensor(expected0))
    # no labels: plain scaled cosine
    expected = 2 * torch.tensor([[math.cos(0.5), math.sin(0.5)]])
    torch.testing.assert_close(head(_angle(0.5)), expected)


def test_cosface_hand_case() -> None:
    head = MarginHead(2, 2, "cos", scale=2.0, margin=0.3)
    head.weight.data = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    out = head(_angle(0.5), torch.tensor([1]))
    torch.testing.assert_close(
        out, torch.tensor([[2 * math.cos(0.5), 2 * (math.sin(0.5) - 0.3)]]))
    # a negative label (e.g. an ignored sample) gets no margin
    torch.testing.assert_close(head(_angle(0.5), torch.tensor([-1])), head(_angle(0.5)))


def test_margin_defaults() -> None:
    assert (MarginHead(4, 3, "arc").s, MarginHead(4, 3, "arc").m) == (64.0, 0.35)
    assert (MarginHead(4, 3, "cos").s, MarginHead(4, 3, "cos").m) == (30.0, 0.4)


def test_linear_classifier_and_bnneck(pm) -> None:
    m = rm.create_model("resnet18", num_classes=1000, pm=pm)
    fc = m.head.classifier
    assert isinstance(fc, torch.nn.Linear) and fc.bias is None
    assert 0.0009 < float(fc.weight.detach().std()) < 0.0011
    bn = m.head.feat_bn
    assert not bn.bias.requires_grad and bn.weight.requires_grad
    assert float(bn.weight.detach().min()) == 1.0 and float(bn.bias.detach().abs().max()) == 0.0


def test_margin_model_uses_labels(pm) -> None:
    m = rm.create_model("resnet18", num_classes=3, classifier="cos", scale=10.0, margin=0.5,
                        pm=pm)
    x, y = torch.randn(4, 3, 64, 32), torch.tensor([0, 1, 2, 0])
    m.train()
    with_labels = m(x, labels=y)["logits"]
    m.head.feat_bn.eval()  # same BN statistics for the second pass
    m.train()
    without = m(x)["logits"]
    diff = (without - with_labels).detach()
    onehot = torch.nn.functional.one_hot(y, 3).float()
    assert torch.allclose(diff * (1 - onehot), torch.zeros(4, 3), atol=1e-4)


def test_reset_and_init_classifier(pm) -> None:
    m = rm.create_model("resnet18", num_classes=5, classifier="arc", pm=pm)
    m.reset_classifier(8)
    assert m.num_classes == 8 and isinstance(m.head.classifier, MarginHead)
    assert m.head.classifier.weight.shape == (8, 512)
    before = m.head.classifier.weight.detach().clone()
    cents = torch.randn(3, 512) * 7
    m.init_classifier(cents, start=5)  # MMT+: rows after the source classes
    w = m.head.classifier.weight.detach()
    torch.testing.assert_close(w[5:8], torch.nn.functional.normalize(cents))
    torch.testing.assert_close(w[:5], before[:5])
    m.init_classifier(cents[:2])
    torch.testing.assert_close(w[:2].norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match="exceed"):
        m.init_classifier(cents, start=6)
    with pytest.raises(ValueError, match="512"):
        m.init_classifier(torch.randn(2, 10))
    m.reset_classifier(0)
    assert m.head.classifier is None
    m.train()
    assert m(torch.randn(2, 3, 64, 32))["logits"] is None
    with pytest.raises(ValueError, match="no classifier"):
        m.init_classifier(cents)


def test_eval_feature_options(pm) -> None:
    x = torch.randn(3, 3, 64, 32)
    m = rm.create_model("resnet18", normalize_eval=False, pm=pm).eval()
    with torch.no_grad():
        raw = m(x)
        assert not torch.allclose(raw.norm(dim=1), torch.ones(3))
        torch.testing.assert_close(raw, m.forward_head(m.forward_features(x), pre_logits=True))
    m.normalize_eval = True
    with torch.no_grad():
        torch.testing.assert_close(m(x), torch.nn.functional.normalize(raw))
    pooled = rm.create_model("resnet18", eval_feature="pooled", pm=pm).eval()
    pooled.load_state_dict(m.state_dict())
    with torch.no_grad():
        fmap = pooled.forward_features(x)
        torch.testing.assert_close(pooled(x), torch.nn.functional.normalize(fmap.mean((2, 3))))
    with pytest.raises(ValueError, match="eval_feature"):
        rm.create_model("resnet18", eval_feature="logits", pm=pm)


def test_embedding_and_dropout(pm) -> None:
    m = rm.create_model("resnet18", num_classes=4, embed_dim=64, dropout=0.5, pm=pm)
    assert m.feature_dim == 64 and m.head.classifier.weight.shape == (4, 64)
    assert isinstance(m.head.drop, torch.nn.Dropout)
    m.train()
    out = m(torch.randn(4, 3, 64, 32))
    assert out["pooled"].shape == (4, 512) and out["bn"].shape == (4, 64)
    m.eval()
    assert m(torch.randn(2, 3, 64, 32)).shape == (2, 64)
