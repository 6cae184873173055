"""Pretrained weights: files, wrappers, prefixes, ImageNet cache, and reports."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

import reid_models as rm


def _same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_matching_checkpoint_loads_everything(tmp_path: Path, pm) -> None:
    src = rm.create_model("resnet18", num_classes=4, pm=pm)
    path = tmp_path / "ckpt.pth"
    torch.save({"model": src.state_dict(), "epoch": 3, "mAP": 0.5}, path)
    model = rm.create_model("resnet18", num_classes=4, pretrained=str(path), pm=pm, strict=True)
    assert model.load_report.ok and not model.load_report.ignored
    assert len(model.load_report.loaded) == len(src.state_dict())
    assert _same(src.state_dict(), model.state_dict())
    # DataParallel prefix and the "state_dict" wrapper
    torch.save({"state_dict": {"module." + k: v for k, v in src.state_dict().items()}}, path)
    model = rm.create_model("resnet18", num_classes=4, pretrained=path, pm=pm, strict=True)
    assert _same(src.state_dict(), model.state_dict())


def test_mismatched_checkpoint_is_reported_not_skipped(tmp_path: Path, pm, caplog) -> None:
    src = rm.create_model("resnet18", num_classes=4, pm=pm)
    state = dict(src.state_dict())
    state["backbone.extra.weight"] = torch.zeros(2)
    del state["backbone.layer1.0.conv1.weight"]
    path = tmp_path / "ckpt.pth"
    torch.save(state, path)
    with caplog.at_level(logging.WARNING, logger="reid_models.weights"):
        model = rm.create_model("resnet18", num_classes=7, pretrained=path, pm=pm)
    rep = model.load_report
    assert not rep.ok
    assert rep.missing == ["backbone.layer1.0.conv1.weight"]
    assert rep.unexpected == ["backbone.extra.weight"]
    assert rep.mismatched == [("head.classifier.weight", (4, 512), (7, 512))]
    assert "head.classifier.weight" in caplog.text and "missing 1" in caplog.text
    assert torch.equal(model.backbone.conv1.weight, src.backbone.conv1.weight)
    with pytest.raises(rm.WeightsMismatchError, match="head.classifier.weight"):
        rm.create_model("resnet18", num_classes=7, pretrained=path, pm=pm, strict=True)


def test_official_ibn_style_file(tmp_path: Path, pm) -> None:
    """An IBN-Net ``.pth.tar`` as released: DataParallel prefix, "state_dict" wrapper, fc."""
    ref = rm.create_backbone("resnet50_ibn_a", pm=pm)
    state = {"module." + k: v for k, v in ref.state_dict().items()}
    state["module.fc.weight"] = torch.zeros(1000, 2048)
    state["module.fc.bias"] = torch.zeros(1000)
    path = tmp_path / "resnet50_ibn_a.pth.tar"
    torch.save({"state_dict": state, "epoch": 100, "arch": "resnet50_ibn_a",
                "best_prec1": 77.4}, path)
    model = rm.create_model("resnet50_ibn_a", num_classes=10, pretrained=path, pm=pm,
                            strict=True)
    rep = model.load_report
    assert rep.ok and sorted(rep.ignored) == ["backbone.fc.bias", "backbone.fc.weight"]
    assert torch.equal(model.backbone.layer1[0].bn1.IN.weight, ref.layer1[0].bn1.IN.weight)
    assert len(rep.loaded) == len(ref.state_dict())


def test_missing_file_is_named(tmp_path: Path, pm) -> None:
    missing = tmp_path / "nowhere" / "weights.pth"
    with pytest.raises(rm.PretrainedWeightsNotFoundError) as err:
        rm.create_model("resnet18", pretrained=missing, pm=pm)
    assert "weights.pth" in str(err.value) and str(missing.parent) in str(err.value)


def test_not_a_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "bad.pth"
    torch.save({"epoch": 3, "note": "no weights"}, path)
    with pytest.raises(rm.WeightsFormatError, match="bad.pth"):
        rm.read_state_dict(path)
    path.write_bytes(b"not a pickle")
    with pytest.raises(rm.WeightsFormatError, match="bad.pth"):
        rm.read_state_dict(path)


def test_imagenet_is_never_downloaded(tmp_path: Path, monkeypatch, pm) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    ckpt_dir = tmp_path / "hub" / "checkpoints"
    with pytest.raises(rm.PretrainedWeightsNotFoundError) as err:
        rm.create_model("resnet18", pretrained="imagenet", pm=pm)
    assert "resnet18-f37072fd.pth" in str(err.value) and str(ckpt_dir) in str(err.value)
    import torchvision

    tv = torchvision.models.resnet18(weights=None)
    ckpt_dir.mkdir(parents=True)
    torch.save(tv.state_dict(), ckpt_dir / "resnet18-f37072fd.pth")
    model = rm.create_model("resnet18", pretrained="imagenet", pm=pm, strict=True)
    assert sorted(model.load_report.ignored) == ["backbone.fc.bias", "backbone.fc.weight"]
    assert torch.equal(model.backbone.layer4[1].conv2.weight, tv.layer4[1].conv2.weight)
    assert model.backbone.layer4[0].conv1.stride == (1, 1)  # last stride 1 kept


@pytest.mark.slow
def test_timm_weights_from_hf_cache(tmp_path: Path, monkeypatch, pm) -> None:
    from safetensors.torch import save_file

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(rm.PretrainedWeightsNotFoundError, match="resnest50d.in1k"):
        rm.create_model("resnest50", pretrained="imagenet", pm=pm)
    ref = rm.create_backbone("resnest50", pm=pm)
    snap = tmp_path / "hf" / "models--timm--resnest50d.in1k" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    state = {k: v.contiguous() for k, v in ref.state_dict().items()}
    state["fc.weight"] = torch.zeros(1000, 2048)
    save_file(state, str(snap / "model.safetensors"))
    model = rm.create_model("resnest50", pretrained="imagenet", pm=pm, strict=True)
    assert torch.equal(model.backbone.conv1[0].weight, ref.conv1[0].weight)


def test_load_into_bare_backbone_and_state_dict(pm) -> None:
    bb = rm.create_backbone("resnet18", pm=pm)
    other = rm.create_backbone("resnet18", pm=pm)
    rep = rm.load_weights(bb, other.state_dict(), strict=True)
    assert rep.ok and _same(other.state_dict(), bb.state_dict())


def test_agw_checkpoint_names_load(pm) -> None:
    """An AGW/MMGL-style state dict: unused ResNet parts and pretext heads are ignored,
    ``bottleneck``/``classifier`` go to the head."""
    ref = rm.create_model("resnet50_two_stream", num_classes=5, non_local=True, pm=pm)
    state = {k[len("backbone."):]: v for k, v in ref.state_dict().items()
             if k.startswith("backbone.")}
    state["visible_module.visible.layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    state["base_resnet.base.conv1.weight"] = torch.zeros(64, 3, 7, 7)
    state["fc1.weight"] = torch.zeros(8, 2048)
    state["local_conv_list.0.0.weight"] = torch.zeros(256, 2048, 1, 1)
    for k, v in ref.head.feat_bn.state_dict().items():
        state["bottleneck." + k] = v + 1
    state["classifier.weight"] = ref.head.classifier.weight.detach() + 1
    model = rm.create_model("resnet50_two_stream", num_classes=5, non_local=True, pm=pm)
    rep = rm.load_weights(model, state, strict=True)
    assert rep.ok and len(rep.ignored) == 4
    assert torch.equal(model.head.feat_bn.weight, ref.head.feat_bn.weight + 1)
    assert torch.equal(model.head.classifier.weight, ref.head.classifier.weight + 1)
    assert torch.equal(model.backbone.NL_3[2].W[0].weight, ref.backbone.NL_3[2].W[0].weight)


def test_plain_resnet50_into_two_stream(pm) -> None:
    import torchvision

    tv = torchvision.models.resnet50(weights=None)
    model = rm.create_model("resnet50_two_stream", pm=pm)
    rep = rm.load_weights(model, tv.state_dict(), strict=True)
    assert rep.ok
    vis, th = model.backbone.visible_module.visible, model.backbone.thermal_module.thermal
    assert torch.equal(vis.conv1.weight, tv.conv1.weight)
    assert torch.equal(th.bn1.running_var, tv.bn1.running_var)
    assert torch.equal(model.backbone.base_resnet.base.layer3[5].conv3.weight,
                       tv.layer3[5].conv3.weight)
