"""What methods get from the core: ``ctx.create_model(arch=)``, ``load_network`` of a plain
backbone into a part model, and ``ctx.extract`` of extra outputs (part features)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.nn import functional as F

from reid_models import create_model
from reid_models.model import PartReidModel
from reid_plugin import UnknownNameError
from reid_runner import CheckpointError, load_network
from reid_runner.testing import stage_context


@pytest.fixture
def ctx(tmp_path: Path, config: dict[str, Any]) -> Any:
    return stage_context(config, tmp_path / "run")


def _save(path: Path, arch: str, net: torch.nn.Module) -> Path:
    torch.save({"format": "reid-model/1", "meta": {"arch": arch}, "nets": {"model":
                                                                           net.state_dict()}},
               path)
    return path


def _parts(n: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return dict(zip(("global", "parts"), n.extract_all_features(x)))


def test_create_model_arch_override(ctx: Any) -> None:
    plain = ctx.create_model(5)
    assert plain.arch == "resnet18" and not isinstance(plain, PartReidModel)  # model.arch
    part = ctx.create_model(5, arch="resnet18part", num_parts=2)
    assert isinstance(part, PartReidModel)
    assert (part.arch, part.num_parts, part.num_classes) == ("resnet18part", 2, 5)
    assert len(part.part_classifiers) == 2
    with pytest.raises(UnknownNameError, match="resnet18prt"):
        ctx.create_model(5, arch="resnet18prt")


def test_load_plain_backbone_into_part_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    plain = create_model("resnet18", num_classes=4)
    src = _save(tmp_path / "resnet18.pt", "resnet18", plain)
    part = create_model("resnet18part", num_classes=7, num_parts=3)
    before = {k: v.clone() for k, v in part.state_dict().items()}
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    log = logging.getLogger("test_load_plain_backbone")
    log.addHandler(Capture())
    log.setLevel(logging.INFO)
    load_network(part, src, log=log)

    file_state, own = plain.state_dict(), part.state_dict()
    extension = sorted(k for k in own if k.startswith(("part_bn.", "part_classifiers.")))
    assert extension and not any(k in file_state for k in extension)
    for k, v in file_state.items():
        if k == "head.classifier.weight":  # 4 rows in the file, 7 in the part model
            assert torch.equal(own[k], before[k])
        else:
            assert torch.equal(own[k], v), k
    for k in extension:  # the modules the part model adds keep their initialisation
        assert torch.equal(own[k], before[k]), k
    report = part.load_report
    assert report.missing == extension
    assert report.mismatched == [("head.classifier.weight", (4, 512), (7, 512))]
    assert report.ignored == []
    assert set(report.loaded) == set(file_state) - {"head.classifier.weight"}
    assert any("resnet18.pt" in m and f"missing {len(extension)}" in m for m in records), records
    # the part model's eval feature is then the plain model's
    x = torch.randn(2, 3, 32, 16)
    torch.testing.assert_close(part.eval()(x), plain.eval()(x))


def test_load_network_refuses_what_does_not_fit(tmp_path: Path) -> None:
    part = create_model("resnet18part", num_classes=7)
    other = _save(tmp_path / "resnet34.pt", "resnet34", create_model("resnet34"))
    with pytest.raises(CheckpointError, match="'resnet34' network .* neither is nor extends"):
        load_network(part, other)
    # the other way round: a part model file into the plain backbone
    parts_file = _save(tmp_path / "part.pt", "resnet18part", part)
    with pytest.raises(CheckpointError, match="'resnet18part' network"):
        load_network(create_model("resnet18"), parts_file)
    # extending does not excuse a missing backbone key
    state = create_model("resnet18").state_dict()
    del state["backbone.layer1.0.conv1.weight"]
    torch.save({"format": "reid-model/1", "meta": {"arch": "resnet18"}, "nets": {"m": state}},
               tmp_path / "broken.pt")
    with pytest.raises(CheckpointError, match=r"layer1\.0\.conv1\.weight"):
        load_network(part, tmp_path / "broken.pt")


def test_extract_extra_outputs(ctx: Any) -> None:
    torch.manual_seed(0)
    net = ctx.create_model(0, arch="resnet18part", num_parts=3)
    samples = list(ctx.dataset("target").query) + list(ctx.dataset("target").gallery)[:5]
    out = ctx.extract(net, samples, forward=_parts)
    assert set(out) == {"global", "parts"}
    assert out["global"].shape == (len(samples), 512)
    assert out["parts"].shape == (len(samples), 512, 3)
    # the global output is the plain eval feature; each part is L2-normalised
    torch.testing.assert_close(out["global"], ctx.extract(net, samples))
    torch.testing.assert_close(out["parts"].norm(dim=1), torch.ones(len(samples), 3))
    # ...and equals the network's own extract_all_features of the same images
    from reid_data import ImageDataset, build_test_transform

    ds = ImageDataset(samples, build_test_transform(32, 16))
    x = torch.stack([ds[i]["image"] for i in range(len(ds))])
    with torch.no_grad():
        g, p = net.eval().extract_all_features(x)
        _, p2 = net.extract_all_features(torch.flip(x, dims=[3]))
    net.train()
    torch.testing.assert_close(out["parts"], F.normalize(p, dim=1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["global"], g, atol=1e-5, rtol=1e-5)
    # flip averages every output; normalize=False keeps the raw average
    flipped = ctx.extract(net, samples, forward=_parts, flip=True, normalize=False)
    torch.testing.assert_close(flipped["parts"], (p + p2) / 2, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(flipped["global"], ctx.extract(net, samples, flip=True,
                                                              normalize=False))
    # an empty shard still has the right shapes (a rank without samples)
    empty = ctx.extract(net, [], forward=_parts)
    assert empty["global"].shape == (0, 512) and empty["parts"].shape == (0, 512, 3)
    assert net.training  # the mode is restored
    with pytest.raises(ValueError, match="takes one network"):
        ctx.extract([net, net], samples, forward=_parts)
    with pytest.raises(TypeError, match="a tensor or a dict of named tensors"):
        ctx.extract(net, samples, forward=lambda n, x: [n(x)])
