"""Hook meta-tests (documented, docstrings, tested) and one test per hook."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import reid_models as rm
from reid_models import hookspecs
from reid_plugin import DuplicateNameError, hookimpl, make_plugin_manager
from reid_plugin.testing import (
    assert_hooks_documented,
    assert_hooks_have_docstrings,
    assert_hooks_tested,
)

PKG = Path(__file__).resolve().parents[1]


def _hook_reference() -> str:
    text = (PKG / "README.md").read_text()
    assert "## Hook reference" in text
    return text.split("## Hook reference", 1)[1]


def test_hooks_documented() -> None:
    assert_hooks_documented(hookspecs, _hook_reference())


def test_hooks_have_docstrings() -> None:
    assert_hooks_have_docstrings(hookspecs)


def test_hooks_tested() -> None:
    assert_hooks_tested(hookspecs, PKG / "tests")


class TinyBackbone(rm.Backbone):
    name = "tiny_cnn"

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, width, 3, stride=4, padding=1)
        self.feature_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x))


class _BackbonePlugin:
    @hookimpl
    def reid_register_backbones(self):
        return [TinyBackbone]


class _DuplicateBackbone(rm.Backbone):
    name = "resnet50"


class _DuplicatePlugin:
    @hookimpl
    def reid_register_backbones(self):
        return [_DuplicateBackbone]


def test_hook_reid_register_backbones() -> None:
    pm = make_plugin_manager([_BackbonePlugin()])
    reg = rm.backbone_registry(pm)
    assert {"resnet50", "resnet50_ibn_a", "tiny_cnn"} <= set(reg.names())
    assert reg.origin("resnet50") == "reid-models"
    model = rm.create_model("tiny_cnn", num_classes=3, width=16, pm=pm)
    assert model.feature_dim == 16
    model.train()
    assert model(torch.randn(2, 3, 32, 16))["logits"].shape == (2, 3)
    assert "tiny_cnn" not in rm.list_models()  # only through the manager that has the plugin
    with pytest.raises(DuplicateNameError, match="resnet50"):
        rm.backbone_registry(make_plugin_manager([_DuplicatePlugin()]))


class HalfLoss(torch.nn.Module):
    name = "half"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean() / 2


class _LossPlugin:
    @hookimpl
    def reid_register_losses(self):
        return [HalfLoss]


class _DupLoss(torch.nn.Module):
    name = "moco"


class _DupLossPlugin:
    @hookimpl
    def reid_register_losses(self):
        return [_DupLoss]


def test_hook_reid_register_losses() -> None:
    pm = make_plugin_manager([_LossPlugin()])
    assert {"cross_entropy", "soft_triplet", "moco", "half"} <= set(rm.list_losses(pm))
    assert float(rm.create_loss("half", pm=pm)(torch.ones(3))) == 0.5
    with pytest.raises(DuplicateNameError, match="moco"):
        rm.loss_registry(make_plugin_manager([_DupLossPlugin()]))
