from __future__ import annotations

import random
from pathlib import Path

import pytest

from reid_data import DatasetLayoutError, create_dataset, sysu_gallery
from reid_data.testing import touch


def make_sysu(base: Path) -> Path:
    d = base / "SYSU-MM01"
    layout = {  # pid -> {cam: n images}
        1: {1: 2, 2: 1, 3: 2, 6: 1}, 2: {4: 1, 3: 1}, 3: {5: 2, 6: 1},        # train/val
        10: {1: 3, 2: 2, 4: 1, 3: 2, 6: 1}, 11: {5: 2, 3: 1},               # test
    }
    for pid, cams in layout.items():
        for cam, n in cams.items():
            touch(d / f"cam{cam}" / f"{pid:04d}", [f"{i + 1:04d}.jpg" for i in range(n)])
    for cam in range(1, 7):
        (d / f"cam{cam}").mkdir(exist_ok=True)
    (d / "exp").mkdir()
    (d / "exp" / "train_id.txt").write_text("1,3\n")
    (d / "exp" / "val_id.txt").write_text("2\n")
    (d / "exp" / "test_id.txt").write_text("11,10\n")
    return d


def test_sysu_splits(tmp_path: Path) -> None:
    d = make_sysu(tmp_path)
    ds = create_dataset("sysu_mm01", tmp_path)
    rgb = [s for s in ds.train if s.modality == "rgb"]
    ir = [s for s in ds.train if s.modality == "ir"]
    assert ds.train == rgb + ir  # RGB block then IR block, as the pre-processing script
    assert [(s.pid, s.camid) for s in rgb] == [(0, 1), (0, 1), (0, 2), (1, 4), (2, 5), (2, 5)]
    assert [(s.pid, s.camid) for s in ir] == [(0, 3), (0, 3), (0, 6), (1, 3), (2, 6)]
    assert rgb[0].path == str(d / "cam1" / "0001" / "0001.jpg")
    assert [(s.pid, s.camid, s.modality) for s in ds.query] == [
        (10, 3, "ir"), (10, 3, "ir"), (10, 6, "ir"), (11, 3, "ir")]
    assert ds.gallery == ds.extra_splits["gallery_pool"] and len(ds.gallery) == 8
    assert ds.camid_base == 1 and ds.cross_modality


def test_sysu_gallery_trials(tmp_path: Path) -> None:
    make_sysu(tmp_path)
    ds = create_dataset("sysu_mm01", tmp_path, trial=3)
    pool = ds.extra_splits["gallery_pool"]
    assert [(s.pid, s.camid) for s in ds.gallery] == [(10, 1), (10, 2), (10, 4), (11, 5)]
    # same draws as the official code: random.seed(trial); random.choice(sorted files)
    random.seed(3)
    expect = []
    for pid, cam in [(10, 1), (10, 2), (10, 4), (11, 5)]:
        files = sorted(s.path for s in pool if (s.pid, s.camid) == (pid, cam))
        expect.append(random.choice(files))
    assert [s.path for s in ds.gallery] == expect
    indoor = create_dataset("sysu_mm01", tmp_path, mode="indoor", trial=0)
    assert {s.camid for s in indoor.gallery} == {1, 2} and len(indoor.gallery) == 2
    multi = sysu_gallery(pool, 0, shot=10)
    assert len(multi) == len(pool)  # fewer than 10 per id/camera: all of them


def test_sysu_missing_id_file(tmp_path: Path) -> None:
    d = make_sysu(tmp_path)
    (d / "exp" / "val_id.txt").unlink()
    with pytest.raises(DatasetLayoutError, match=r"id file .*exp/val_id\.txt is missing"):
        create_dataset("sysu_mm01", d)


def make_regdb(base: Path) -> Path:
    d = base / "RegDB"
    (d / "idx").mkdir(parents=True)
    for t in (1, 2):
        for split, pids in (("train", (0, 1)), ("test", (5, 6))):
            for mod, folder in (("visible", "Visible"), ("thermal", "Thermal")):
                lines = []
                for label, pid in enumerate(pids):
                    for k in range(2):
                        rel = f"{folder}/{pid + t}/{mod[0]}_{k}.bmp"
                        touch(d, [rel])
                        lines.append(f"{rel} {label if split == 'train' else pid}")
                (d / "idx" / f"{split}_{mod}_{t}.txt").write_text("\n".join(lines) + "\n")
    return d


def test_regdb_trials_and_direction(tmp_path: Path) -> None:
    d = make_regdb(tmp_path)
    ds = create_dataset("regdb", tmp_path, trial=2)
    assert [(s.pid, s.camid, s.modality) for s in ds.train] == [
        (0, 0, "rgb"), (0, 0, "rgb"), (1, 0, "rgb"), (1, 0, "rgb"),
        (0, 1, "ir"), (0, 1, "ir"), (1, 1, "ir"), (1, 1, "ir")]
    assert ds.train[0].path == str(d / "Visible" / "2" / "v_0.bmp")
    assert {s.modality for s in ds.query} == {"rgb"} and {s.modality for s in ds.gallery} == {"ir"}
    assert sorted({s.pid for s in ds.query}) == [5, 6]
    t2v = create_dataset("regdb", tmp_path, trial=2, direction="thermal_to_visible")
    assert t2v.query == ds.gallery and t2v.gallery == ds.query
    with pytest.raises(DatasetLayoutError, match=r"idx file .*train_visible_3\.txt is missing"):
        create_dataset("regdb", tmp_path, trial=3)
    with pytest.raises(ValueError, match=r"option trial=11 is not one of"):
        create_dataset("regdb", tmp_path, trial=11)


def test_contract_of_builtin_datasets(tmp_path: Path) -> None:
    from reid_data.testing import assert_dataset_contract, make_market, make_msmt

    make_sysu(tmp_path)
    make_regdb(tmp_path)
    make_market(tmp_path)
    make_msmt(tmp_path)
    for name, opts in (("sysu_mm01", {"trial": 1}), ("regdb", {}), ("market1501", {}),
                       ("msmt17", {})):
        assert_dataset_contract(create_dataset(name, tmp_path, **opts))
