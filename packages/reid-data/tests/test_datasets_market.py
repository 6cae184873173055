from __future__ import annotations

from pathlib import Path

import pytest

from reid_data import DatasetLayoutError, Sample, create_dataset
from reid_data.testing import make_market, touch


def test_market_parsing_junk_distractors_relabel(market_root: Path) -> None:
    ds = create_dataset("market1501", market_root)
    d = market_root / "Market-1501-v15.09.15"
    assert ds.dataset_dir == d
    # train: pids {2, 7, 10} relabelled ascending to {0, 1, 2}; cameras 1-based -> 0-based
    assert [(Path(s.path).name, s.pid, s.camid) for s in ds.train] == [
        ("0002_c1s1_000451_03.jpg", 0, 0), ("0002_c2s1_000551_01.jpg", 0, 1),
        ("0007_c1s1_001051_00.jpg", 1, 0), ("0007_c1s2_001151_00.jpg", 1, 0),
        ("0007_c3s1_001251_00.jpg", 1, 2), ("0010_c6s1_002051_00.jpg", 2, 5)]
    assert ds.num_train_pids == 3
    assert all(isinstance(s, Sample) and s.modality is None for s in ds.train)
    # query keeps raw pids
    assert sorted((s.pid, s.camid) for s in ds.query) == [(2, 2), (7, 1)]
    # gallery: 2 junk skipped, 2 distractors (pid 0) kept
    assert len(ds.gallery) == 5
    assert sorted(s.pid for s in ds.gallery) == [0, 0, 2, 2, 7]
    assert ds.stats() == {"train": {"images": 6, "ids": 3, "cameras": 4},
                          "query": {"images": 2, "ids": 2, "cameras": 2},
                          "gallery": {"images": 5, "ids": 3, "cameras": 4}}
    assert ds.has_camids and ds.camid_base == 0
    mism = ds.compare_official()
    assert "train.images: found 6, official 12936" in mism


@pytest.mark.parametrize("convention", ["root/Original", "root/key/Original", "root=Original"])
def test_market_root_conventions(tmp_path: Path, convention: str) -> None:
    if convention == "root/Original":
        make_market(tmp_path)
        root = tmp_path
    elif convention == "root/key/Original":
        make_market(tmp_path / "market1501")
        root = tmp_path
    else:
        root = make_market(tmp_path)
    ds = create_dataset("market1501", root)
    assert ds.dataset_dir.name == "Market-1501-v15.09.15"
    assert len(ds.train) == 6 and len(ds.gallery) == 5


def test_market_missing_layout_names_expected_and_tried(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError) as err:
        create_dataset("market1501", tmp_path)
    msg = str(err.value)
    assert "Market-1501-v15.09.15" in msg and "bounding_box_train" in msg
    assert str(tmp_path / "Market-1501-v15.09.15") in msg
    assert str(tmp_path / "market1501" / "Market-1501-v15.09.15") in msg
    assert "root/<key>/<Original>" in msg
    assert isinstance(err.value, FileNotFoundError)
    assert len(err.value.tried) == 4  # root/Orig, root/market1501/Orig, root/market/Orig, root


def test_market_partial_layout_says_what_is_missing(tmp_path: Path) -> None:
    d = tmp_path / "Market-1501-v15.09.15"
    touch(d / "bounding_box_train", ["0002_c1s1_000451_03.jpg"])
    with pytest.raises(DatasetLayoutError, match=r"exists, but lacks query, bounding_box_test"):
        create_dataset("market1501", tmp_path)


def test_market_bad_filename_and_camera(tmp_path: Path) -> None:
    d = make_market(tmp_path)
    touch(d / "query", ["0003_c7s1_000001_00.jpg"])
    with pytest.raises(ValueError, match=r"0003_c7s1_000001_00\.jpg has unexpected camera 7"):
        create_dataset("market1501", tmp_path)
    (d / "query" / "0003_c7s1_000001_00.jpg").unlink()
    touch(d / "query", ["garbage.jpg"])
    with pytest.raises(ValueError, match=r"garbage\.jpg does not match"):
        create_dataset("market1501", tmp_path)


def test_unknown_option_lists_accepted(market_root: Path) -> None:
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['versoin'\]"):
        create_dataset("market1501", market_root, versoin="v1")


def test_duke_and_alias(tmp_path: Path) -> None:
    d = tmp_path / "dukemtmc" / "DukeMTMC-reID"
    touch(d / "bounding_box_train", ["0001_c2_f0046182.jpg", "0001_c8_f0046999.jpg",
                                     "0005_c1_f0000001.jpg"])
    touch(d / "query", ["0001_c1_f0046000.jpg"])
    touch(d / "bounding_box_test", ["0001_c5_f0046100.jpg", "0099_c3_f0000002.jpg"])
    for key in ("dukemtmc", "dukemtmcreid"):
        ds = create_dataset(key, tmp_path)
        assert [(s.pid, s.camid) for s in ds.train] == [(0, 1), (0, 7), (1, 0)]
        assert [(s.pid, s.camid) for s in ds.gallery] == [(1, 4), (99, 2)]
        assert ds.official_stats["gallery"]["ids"] == 1110


def test_veri776_folder_and_cameras(tmp_path: Path) -> None:
    d = tmp_path / "VeRi"
    touch(d / "image_train", ["0001_c001_00016450_0.jpg", "0001_c020_00016460_0.jpg",
                              "0005_c010_00000001_0.jpg"])
    touch(d / "image_query", ["0002_c002_00030600_0.jpg"])
    touch(d / "image_test", ["0002_c003_00030700_0.jpg", "-1_c003_00030700_0.jpg"])
    ds = create_dataset("veri776", tmp_path)
    assert [(s.pid, s.camid) for s in ds.train] == [(0, 0), (0, 19), (1, 9)]
    assert [(s.pid, s.camid) for s in ds.gallery] == [(2, 2)]
    ds2 = create_dataset("veri776", d)  # root = the original folder
    assert ds2.dataset_dir == d


def test_personx_camera_table(tmp_path: Path) -> None:
    d = tmp_path / "PersonX"
    touch(d / "bounding_box_train", ["0004_c3s1_0001.jpg", "0004_c12s1_0002.jpg",
                                     "0009_c8s1_0003.jpg"])
    touch(d / "query", ["0100_c10s1_0001.jpg"])
    touch(d / "bounding_box_test", ["0100_c11s1_0002.jpg", "0100_c4s1_0003.jpg"])
    ds = create_dataset("personx", tmp_path)
    assert [(s.pid, s.camid) for s in ds.train] == [(0, 5), (0, 0), (1, 2)]
    assert [(s.pid, s.camid) for s in ds.query] == [(100, 3)]
    assert sorted(s.camid for s in ds.gallery) == [1, 4]
    touch(d / "query", ["0100_c5s1_0009.jpg"])
    with pytest.raises(ValueError, match="unexpected camera 5"):
        create_dataset("personx", tmp_path)
