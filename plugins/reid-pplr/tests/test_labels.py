"""Cross-agreement, its use after outlier removal, centroids, camera-aware proxies, the scores
log, the feature wrapper, architecture resolution and initialisation from a plain backbone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reid_pplr import labels as L


def _line(xs: list[float]) -> torch.Tensor:
    return torch.tensor([[x, 0.0] for x in xs])


def test_agreement_scores_hand_computed() -> None:
    # global positions 0, 1.1, 2.5, 10, 11.3; part 0 moves images 2 and 4 around; part 1 equals
    # the global space. k = 2 neighbours, self excluded:
    #   global: 0:{1,2} 1:{0,2} 2:{1,0} 3:{4,2} 4:{3,2}
    #   part 0 (0, 1.1, 10, 11.3, 2.5): 0:{1,4} 1:{0,4} 2:{3,4} 3:{2,4} 4:{1,0}
    g = _line([0, 1.1, 2.5, 10, 11.3])
    p0 = _line([0, 1.1, 10, 11.3, 2.5])
    p = torch.stack([p0, g], dim=-1)  # [N, D, P]
    s = L.agreement_scores(g, p, k=2)
    expect = np.array([[1 / 3, 1], [1 / 3, 1], [0, 1], [1, 1], [0, 1]], np.float32)
    np.testing.assert_allclose(s, expect, atol=1e-6)
    assert s.dtype == np.float32 and s.shape == (5, 2)


def test_scores_are_computed_on_all_images_and_reindexed_to_kept_ones() -> None:
    scores = torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8], [0.9, 1.0]])
    labels = np.array([0, -1, 1, -1, 0])  # images 1 and 3 are DBSCAN outliers
    kept = L.kept_scores(scores, labels)
    # the training list holds images 0, 2, 4: batch index j -> row j of the kept scores
    assert torch.equal(kept, scores[[0, 2, 4]])
    assert torch.equal(kept[torch.tensor([2, 0])], torch.tensor([[0.9, 1.0], [0.1, 0.2]]))


def test_centroids_global_and_parts() -> None:
    g = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [9.0, 9.0]])
    lab = np.array([0, 0, 1, -1])
    assert torch.allclose(L.centroids(g, lab, 2), torch.tensor([[2.0, 0.0], [0.0, 2.0]]))
    p = torch.stack([g, 2 * g], dim=-1)  # [N, D, P=2]
    c = L.centroids(p, lab, 2)
    assert c.shape == (2, 2, 2)
    assert torch.allclose(c[:, :, 1], 2 * torch.tensor([[2.0, 0.0], [0.0, 2.0]]))


def test_camera_proxies_hand_computed() -> None:
    g = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, -2.0], [5.0, 5.0]])
    p = torch.stack([g, -g], dim=-1)
    lab = np.array([0, 0, 0, 1, -1])
    cams = np.array([1, 2, 2, 1, 2])  # 1-based cameras (MSMT17) work as well
    px = L.camera_proxies(g, p, lab, cams)
    # (cluster 0, cam 1): image 0; (cluster 0, cam 2): mean of 1 and 2; (cluster 1, cam 1): 3
    r = (0.5 ** 2 + 1.0 ** 2) ** -0.5
    expect = torch.tensor([[1.0, 0.0], [0.5 * r, 1.0 * r], [0.0, -1.0]])
    assert px.labels.tolist() == [0, 0, 1] and px.cams.tolist() == [1, 2, 1]
    assert px.proxies.shape == (3, 3, 2)  # [1 + P, M, D]
    assert torch.allclose(px.proxies[0], expect, atol=1e-6)
    assert torch.allclose(px.proxies[2], -expect, atol=1e-6)


def test_save_scores_appends_and_truncates(tmp_path) -> None:
    path = tmp_path / "scores.npy"
    a, b, c = (np.full((4, 3), v, np.float32) for v in (0.1, 0.2, 0.3))
    L.save_scores(path, 0, a)
    L.save_scores(path, 1, b)
    out = np.load(path)
    assert out.shape == (2, 4, 3) and np.allclose(out[:, 0, 0], [0.1, 0.2])
    L.save_scores(path, 1, c)  # epoch 1 again (a restart): replaced, not appended
    assert np.allclose(np.load(path)[:, 0, 0], [0.1, 0.3])
    L.save_scores(path, 0, c)  # a fresh stage in the same folder starts over
    assert np.load(path).shape == (1, 4, 3)


def _tiny_part_model(num_classes: int = 5):
    from reid_models import create_model

    torch.manual_seed(0)
    return create_model("resnet18part", num_classes=num_classes, num_parts=3).eval()


def test_all_features_wrapper_round_trip() -> None:
    net = _tiny_part_model()
    x = torch.randn(2, 3, 32, 16)
    with torch.no_grad():
        g, p = net.extract_all_features(x)
        g2, p2 = L.split_features(L.AllFeatures(net)(x), 3)
    assert torch.allclose(g, g2) and torch.allclose(p, p2)
    assert torch.allclose(g, net(x), atol=1e-6)  # eval output = normalised global feature


def test_resolve_arch() -> None:
    from reid_pplr.method import resolve_arch

    from reid_runner.config import ConfigError

    assert resolve_arch("", "resnet18", None) == "resnet18part"
    assert resolve_arch("", "resnet50", None) == "resnet50part"
    assert resolve_arch("", "resnet50part", None) == "resnet50part"
    assert resolve_arch("resnet18part", "resnet50", None) == "resnet18part"
    with pytest.raises(ConfigError, match="stages.pplr.arch: 'resnet18' is not a part model"):
        resolve_arch("resnet18", "resnet18", None)
    with pytest.raises(ConfigError, match="has no part variant"):
        resolve_arch("", "resnet34", None)


def _artifact(path, arch: str, state: dict) -> None:
    torch.save({"format": "reid-model/1", "meta": {"arch": arch}, "nets": {"model": state}}, path)


def test_load_init_from_the_plain_backbone(tmp_path) -> None:
    from reid_pplr.method import load_init

    from reid_models import create_model

    torch.manual_seed(1)
    plain = create_model("resnet18", num_classes=7)
    with torch.no_grad():
        plain.head.feat_bn.running_mean.uniform_()
    _artifact(tmp_path / "m.pt", "resnet18", plain.state_dict())
    net = _tiny_part_model(num_classes=30)
    fresh_part = {k: v.clone() for k, v in net.state_dict().items() if k.startswith("part_")}
    load_init(net, tmp_path / "m.pt")
    st = net.state_dict()
    for k, v in plain.state_dict().items():
        if "classifier" not in k:
            assert torch.equal(st[k], v), k  # backbone and global BNNeck loaded
    for k, v in fresh_part.items():
        assert torch.equal(st[k], v), k  # part BNNecks and classifiers stay fresh
    assert st["head.classifier.weight"].shape == (30, 512)


def test_load_init_refuses_another_backbone(tmp_path) -> None:
    from reid_pplr.method import load_init

    from reid_models import create_model
    from reid_runner.checkpoint import CheckpointError

    _artifact(tmp_path / "m.pt", "resnet34", create_model("resnet34").state_dict())
    with pytest.raises(CheckpointError, match="holds a 'resnet34' network"):
        load_init(_tiny_part_model(), tmp_path / "m.pt")


def test_config_errors_name_the_key() -> None:
    from reid_pplr.method import PPLRConfig

    from reid_runner.config import ConfigError

    for bad, key in (({"beta": 1.5}, "beta"), ({"eps": 0.0}, "eps"), ({"num_parts": 0},
                                                                      "num_parts")):
        with pytest.raises(ConfigError, match=f"stages.pplr.{key}"):
            PPLRConfig(method="pplr", **bad).validate("stages.pplr")
