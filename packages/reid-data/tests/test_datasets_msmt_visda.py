from __future__ import annotations

from pathlib import Path

import pytest

from reid_data import DatasetLayoutError, create_dataset
from reid_data.testing import MSMT_TRAIN, make_msmt, touch


@pytest.mark.parametrize("version", ["V1", "V2"])
def test_msmt_versions(tmp_path: Path, version: str) -> None:
    d = make_msmt(tmp_path, version)
    ds = create_dataset("msmt17", tmp_path)
    assert ds.layout == f"MSMT17_{version}" and ds.dataset_dir == d
    sub = "train" if version == "V1" else "mask_train_v2"
    # train = list_train + list_val, pids not relabelled, cameras kept 1-based
    assert [(s.pid, s.camid) for s in ds.train] == [(0, 1), (0, 5), (1, 15), (2, 3)]
    assert ds.train[0].path == str(d / sub / MSMT_TRAIN[0])
    assert [(s.pid, s.camid) for s in ds.gallery] == [(0, 7), (3, 2)]
    assert ds.camid_base == 1
    assert ds.stats()["train"] == {"images": 4, "ids": 3, "cameras": 4}
    assert create_dataset("msmt17", tmp_path, version=version.lower()).layout == ds.layout
    if version == "V2":
        assert any("MSMT17_V1" in n for n in ds.notes)


def test_msmt_missing_list_file_named(tmp_path: Path) -> None:
    d = make_msmt(tmp_path / "msmt17")  # root/<key>/<Original>
    (d / "list_val.txt").unlink()
    with pytest.raises(DatasetLayoutError, match=r"list file .*list_val\.txt is missing"):
        create_dataset("msmt17", tmp_path)


def test_msmt_version_mismatch_is_explained(tmp_path: Path) -> None:
    make_msmt(tmp_path, "V2")
    with pytest.raises(DatasetLayoutError, match=r"holds MSMT17_V2.*version='v2'"):
        create_dataset("msmt17", tmp_path, version="v1")
    with pytest.raises(ValueError, match="option version='v3' is not one of"):
        create_dataset("msmt17", tmp_path, version="v3")


def make_visda(base: Path, source: str = "personX", test: bool = True) -> Path:
    touch(base / source / "image_train", ["0001_c3s1_24.jpg", "0001_c5s2_30.jpg",
                                          "0700_c12s1_1.jpg", "-1_c1s1_2.jpg"])
    t = base / "target_training"
    touch(t / "image_train", ["00001.jpg", "00002.jpg", "00003.jpg"])
    (t / "label_target_training.txt").write_text("00001.jpg 1 0\n00002.jpg 6 0\n00003.jpg 4 0\n")
    v = base / "target_validation"
    q = ["0001_c1s1_000017_02.jpg", "0002_c2s1_000100_00.jpg"]
    g = ["0001_c4s1_000020_01.jpg", "0000_c5s1_000001_00.jpg", "-1_c6s1_000002_00.jpg",
         "0002_c6s1_000300_00.jpg"]
    touch(v / "image_query", q)
    touch(v / "image_gallery", g)
    # index order differs from sorted order: loaders must keep the index-file order
    (base / "index_validation_query.txt").write_text(
        "".join(f"{n} 0 0 {i:04d}\n" for i, n in enumerate(reversed(q))))
    (base / "index_validation_gallery.txt").write_text(
        "".join(f"{n} 0 0 {i:04d}\n" for i, n in enumerate(g)))
    if test:
        touch(base / "target_test" / "image_query", ["000000.jpg"])
        touch(base / "target_test" / "image_gallery", ["000001.jpg", "000000.jpg"])
        (base / "index_test_query.txt").write_text("000000.jpg 0 0 0000\n")
        (base / "index_test_gallery.txt").write_text("000001.jpg 0 0 0000\n000000.jpg 0 0 0001\n")
    return base


def test_visda2020_all_parts(tmp_path: Path) -> None:
    make_visda(tmp_path)
    ds = create_dataset("visda2020", tmp_path)
    assert [(Path(s.path).name, s.pid, s.camid) for s in ds.train] == [
        ("0001_c3s1_24.jpg", 0, 2), ("0001_c5s2_30.jpg", 0, 4), ("0700_c12s1_1.jpg", 1, 11)]
    tt = ds.extra_splits["target_train"]
    assert [(Path(s.path).name, s.pid, s.camid) for s in tt] == [
        ("00001.jpg", 0, 0), ("00002.jpg", 0, 4), ("00003.jpg", 0, 2)]
    assert [(s.pid, s.camid) for s in ds.query] == [(2, 1), (1, 0)]  # index-file order
    assert [(s.pid, s.camid) for s in ds.gallery] == [(1, 2), (0, 3), (2, 4)]  # junk skipped
    assert ds.extra_splits["target_validation_query"] is ds.query
    assert [Path(s.path).name for s in ds.extra_splits["target_test_gallery"]] == [
        "000001.jpg", "000000.jpg"]
    assert all((s.pid, s.camid) == (0, 0) for s in ds.extra_splits["target_test_query"])


def test_visda2020_translated_source_and_missing_index(tmp_path: Path) -> None:
    make_visda(tmp_path, source="personX_sda", test=False)
    ds = create_dataset("visda2020", tmp_path, source="personX_sda")
    assert "personX_sda" in ds.train[0].path and "target_test_query" not in ds.extra_splits
    with pytest.raises(DatasetLayoutError, match=r"personX/image_train"):
        create_dataset("visda2020", tmp_path)  # default source personX is absent
    (tmp_path / "index_validation_gallery.txt").unlink()
    with pytest.raises(DatasetLayoutError, match=r"index file .*index_validation_gallery\.txt"):
        create_dataset("visda2020", tmp_path, source="personX_sda")


def test_visda2020_bad_camera_list(tmp_path: Path) -> None:
    make_visda(tmp_path)
    (tmp_path / "target_training" / "label_target_training.txt").write_text("00001.jpg 3 0\n")
    with pytest.raises(ValueError, match=r"line 1 of .*label_target_training\.txt"):
        create_dataset("visda2020", tmp_path)
