"""PPLR's part model."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

import reid_models as rm


def test_part_model_outputs(pm) -> None:
    m = rm.create_model("resnet18part", num_classes=7, pm=pm)
    assert isinstance(m, rm.PartReidModel) and m.num_parts == 3
    assert len(m.part_bn) == 3 and all(not bn.bias.requires_grad for bn in m.part_bn)
    x = torch.randn(4, 3, 96, 32)
    m.train()
    out = m(x)
    assert out["part_pooled"].shape == (4, 512, 3)
    assert out["part_bn"].shape == (4, 512, 3) and out["part_logits"].shape == (4, 7, 3)
    # stripe p is the average of rows [2p, 2p + 2) of the 6-row map
    fmap = m.forward_features(x)
    assert fmap.shape[2:] == (6, 2)  # stride 16 with last stride 1
    torch.testing.assert_close(out["part_pooled"][:, :, 1], fmap[:, :, 2:4].mean((2, 3)),
                               atol=1e-5, rtol=1e-4)
    m.eval()
    with torch.no_grad():
        g = m(x)
        g2, parts = m.extract_all_features(x)
    torch.testing.assert_close(g, g2)
    assert parts.shape == (4, 512, 3)
    torch.testing.assert_close(parts.norm(dim=1), torch.ones(4, 3))


def test_part_classifier_init_and_reset(pm) -> None:
    m = rm.create_model("resnet18part", num_classes=10, num_parts=2, pm=pm)
    assert m.num_parts == 2
    glob = torch.randn(4, 512)
    parts = torch.randn(2, 4, 512)
    m.init_classifier(glob, part_centroids=parts)
    torch.testing.assert_close(m.head.classifier.weight[:4], F.normalize(glob))
    for p in range(2):
        torch.testing.assert_close(m.part_classifiers[p].weight[:4], F.normalize(parts[p]))
    with pytest.raises(ValueError, match="2 part centroid"):
        m.init_classifier(glob, part_centroids=parts[:1])
    m.reset_classifier(5)
    assert all(fc.weight.shape == (5, 512) for fc in m.part_classifiers)
    m.reset_classifier(0)
    m.train()
    assert m(torch.randn(2, 3, 64, 32))["part_logits"] is None


def test_part_model_rejects_embedding(pm) -> None:
    with pytest.raises(ValueError, match="embedding"):
        rm.create_model("resnet18part", embed_dim=128, pm=pm)
