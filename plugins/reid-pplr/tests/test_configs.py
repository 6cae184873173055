from __future__ import annotations

from pathlib import Path

import pytest

CONFIGS = sorted((Path(__import__("reid_pplr").__file__).parent / "configs").glob("*.yaml"))
# dataset -> (eps without / with camera labels, lam_cam, height, width, num_instances)
OFFICIAL = {"market1501": (0.5, 0.4, 0.5, 384, 128, 4), "msmt17": (0.5, 0.6, 1.0, 384, 128, 4),
            "veri776": (0.7, 0.7, 0.5, 256, 256, 8)}


def test_every_dataset_with_and_without_camera_labels() -> None:
    names = {p.stem for p in CONFIGS}
    assert names == {f"{d}_pplr{s}" for d in OFFICIAL for s in ("", "_cam")}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_validates_with_official_values(path: Path) -> None:
    from reid_pplr.method import resolve_arch

    from reid_runner import prepare, raw_config

    prep = prepare(raw_config([path]))
    cfg = prep.config
    st = cfg.stages["pplr"]
    eps, eps_cam, lam, h, w, inst = OFFICIAL[cfg.data.target]
    cam = path.stem.endswith("_cam")
    assert (st.method, st.camera_aware, st.eps) == ("pplr", cam, eps_cam if cam else eps)
    assert (cfg.data.height, cfg.data.width, cfg.data.num_instances) == (h, w, inst)
    assert cfg.data.batch_size == 64 and not cfg.data.source and cfg.model.pretrained
    assert (st.epochs, st.iters, st.k1, st.k2, st.k, st.beta, st.aals_epoch) == (
        50, 400, 30, 6, 20, 0.5, 5)
    assert (st.lr, st.weight_decay, st.step_size, st.gamma, st.num_parts) == (
        3.5e-4, 5e-4, 20, 0.1, 3)
    if cam:
        assert (st.lam_cam, st.proxy_temperature, st.hard_negatives) == (lam, 0.07, 50)
    assert resolve_arch(st.arch, cfg.model.arch, prep.pm) == "resnet50part"
