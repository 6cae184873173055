"""The factories: name errors, option handling, None pruning."""

from __future__ import annotations

import pytest

import reid_models as rm


def test_unknown_arch_lists_choices(pm) -> None:
    with pytest.raises(rm.UnknownNameError) as err:
        rm.create_model("resnet51", pm=pm)
    assert "resnet50_ibn_a" in str(err.value) and "Did you mean" in str(err.value)
    with pytest.raises(rm.UnknownNameError, match="soft_triplet"):
        rm.create_loss("soft_tripletz", pm=pm)


def test_none_options_are_pruned_and_unknown_ones_named(pm) -> None:
    m = rm.create_model("resnet18", num_classes=3, pooling=None, last_stride=None,
                        pretrained=None, pm=pm)
    assert m.backbone.last_stride == 1 and m.head.pooling == "avg"
    with pytest.raises(TypeError, match="colour") as err:
        rm.create_model("resnet18", colour="red", pm=pm)
    assert "last_stride" in str(err.value) and "pooling" in str(err.value)
    with pytest.raises(TypeError, match="non_local"):
        rm.create_model("resnet18", non_local=True, pm=pm)
    with pytest.raises(TypeError, match="pretrained"):
        rm.create_model("resnet18", pretrained=3, pm=pm)
    with pytest.raises(TypeError, match="valid"):
        rm.create_loss("triplet", gamma=2, pm=pm)
    assert rm.create_loss("triplet", margin=None, pm=pm).margin == 0.3


def test_default_manager_when_pm_is_none() -> None:
    assert "resnet50" in rm.list_models() and "moco" in rm.list_losses()
    assert rm.create_loss("soft_triplet").margin == 0.0
