from __future__ import annotations

from pathlib import Path

import pytest

from reid_data import DatasetLayoutError, create_dataset
from reid_data.testing import touch


def test_folder_default_pattern_with_splits(tmp_path: Path) -> None:
    touch(tmp_path / "train", ["0005_c1_a.jpg", "0005_c2_b.png", "0009_c1_c.jpg", "notes.txt"])
    touch(tmp_path / "query", ["0005_c3_q.jpg"])
    touch(tmp_path / "gallery", ["0005_c1_g.jpg", "0000_c2_d.jpg", "-1_c1_junk.jpg"])
    ds = create_dataset("folder", tmp_path)
    assert [(s.pid, s.camid) for s in ds.train] == [(0, 1), (0, 2), (1, 1)]
    assert [(s.pid, s.camid) for s in ds.gallery] == [(0, 2), (5, 1)]
    assert ds.has_camids and ds.has_pids


def test_folder_pattern_without_camids(tmp_path: Path) -> None:
    touch(tmp_path / "bounding_box_train", ["id12/x.jpg", "id12/y.jpg", "id3/z.jpg"])
    touch(tmp_path / "query", ["id12/q.jpg"])
    touch(tmp_path / "bounding_box_test", ["id12/g.jpg", "id3/g.jpg"])
    ds = create_dataset("folder", tmp_path, pattern=r"id(?P<pid>\d+)/")
    assert [(s.pid, s.camid) for s in ds.train] == [(1, -1), (1, -1), (0, -1)]
    assert not ds.has_camids
    assert any("same-camera rule" in n for n in ds.notes)
    assert ds.stats()["gallery"] == {"images": 2, "ids": 2, "cameras": 0}


def test_folder_unlabelled_flat(tmp_path: Path) -> None:
    touch(tmp_path, ["cam1_0001.jpg", "cam2_0002.jpg"])
    ds = create_dataset("folder", tmp_path, pattern=r"cam(?P<camid>\d+)_")
    assert [(s.pid, s.camid) for s in ds.train] == [(0, 1), (0, 2)]
    assert not ds.has_pids and ds.has_camids and ds.query == []


def test_folder_mismatch_raise_or_skip(tmp_path: Path) -> None:
    touch(tmp_path / "train", ["0001_c1.jpg", "oops.jpg"])
    with pytest.raises(ValueError, match=r"oops\.jpg does not match pattern"):
        create_dataset("folder", tmp_path)
    ds = create_dataset("folder", tmp_path, on_mismatch="skip")
    assert len(ds.train) == 1 and ds.skipped_files[0].endswith("oops.jpg")
    with pytest.raises(ValueError, match="named group"):
        create_dataset("folder", tmp_path, pattern=r"(?P<person>\d+)")


def test_folder_csv_and_txt_lists(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(
        "path,pid,camid,split\na.jpg,4,0,train\nb.jpg,4,1,train\nc.jpg,8,0,train\n"
        "d.jpg,4,2,query\ne.jpg,4,0,gallery\nf.jpg,-1,0,gallery\n")
    ds = create_dataset("folder", tmp_path, list_file="labels.csv")
    assert [(Path(s.path).name, s.pid, s.camid) for s in ds.train] == [
        ("a.jpg", 0, 0), ("b.jpg", 0, 1), ("c.jpg", 1, 0)]
    assert ds.train[0].path == str(tmp_path / "a.jpg")
    assert len(ds.query) == 1 and len(ds.gallery) == 1 and ds.has_camids
    (tmp_path / "list.txt").write_text("a.jpg 4\nb.jpg 5 query\n# comment\nc.jpg 5 gallery\n")
    ds = create_dataset("folder", tmp_path, list_file="list.txt")
    assert [(s.pid, s.camid) for s in ds.train] == [(0, -1)]
    assert not ds.has_camids and len(ds.query) == len(ds.gallery) == 1
    with pytest.raises(DatasetLayoutError, match=r"list file .*missing\.csv is missing"):
        create_dataset("folder", tmp_path, list_file="missing.csv")


def test_folder_missing_root_and_empty(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        create_dataset("folder", tmp_path / "nope")
    with pytest.raises(DatasetLayoutError, match="no images"):
        create_dataset("folder", tmp_path)
