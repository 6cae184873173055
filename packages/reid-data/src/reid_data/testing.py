"""Helpers for tests of reid-data and of dataset plugins.

Tiny on-disk datasets in the official naming conventions (empty files: the loaders never decode)
and :func:`assert_dataset_contract`, which every dataset class, built-in or plugin, should pass::

    from reid_data.testing import assert_dataset_contract, make_market
    ds = create_dataset("market1501", make_market(tmp_path).parent)
    assert_dataset_contract(ds)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from reid_data.base import ReidDataset, Sample

__all__ = ["assert_dataset_contract", "make_market", "make_msmt", "touch", "write_jpeg"]


def touch(folder: Path, names: Iterable[str]) -> None:
    """Create empty files ``folder/name`` (and their parent folders)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"")


def write_jpeg(path: Path, value: int = 128, size: tuple[int, int] = (16, 8)) -> None:
    """Write a small real JPEG (two horizontal bands) of ``size`` = (height, width)."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((size[0], size[1], 3), value, np.uint8)
    img[: size[0] // 2] = 255 - value
    assert cv2.imwrite(str(path), img)


MARKET_TRAIN = ["0002_c1s1_000451_03.jpg", "0002_c2s1_000551_01.jpg", "0007_c1s1_001051_00.jpg",
                "0007_c1s2_001151_00.jpg", "0007_c3s1_001251_00.jpg", "0010_c6s1_002051_00.jpg"]
MARKET_QUERY = ["0002_c3s1_000751_00.jpg", "0007_c2s1_000801_00.jpg"]
MARKET_GALLERY = ["0002_c1s1_000900_01.jpg", "0002_c5s1_000901_01.jpg", "0007_c4s1_000950_01.jpg",
                  "0000_c1s1_000001_01.jpg", "0000_c2s3_000002_04.jpg",       # distractors, kept
                  "-1_c3s1_000003_00.jpg", "-1_c1s1_000004_00.jpg"]            # junk, skipped


def make_market(base: Path, folder: str = "Market-1501-v15.09.15") -> Path:
    """A 6/2/7-file Market-1501 at ``base/folder`` (2 junk and 2 distractor gallery files)."""
    d = base / folder
    touch(d / "bounding_box_train", MARKET_TRAIN)
    touch(d / "query", MARKET_QUERY)
    touch(d / "bounding_box_test", MARKET_GALLERY)
    (d / "gt_bbox").mkdir()
    return d


MSMT_TRAIN = ["0000/0000_000_01_0303morning_0015_0.jpg",
              "0000/0000_001_05_0303morning_0016_0.jpg", "0001/0001_000_15_0303noon_0100_1.jpg"]
MSMT_VAL = ["0002/0002_000_03_0303afternoon_0001_0.jpg"]
MSMT_QUERY = ["0000/0000_000_01_0303morning_0015_0.jpg"]
MSMT_GALLERY = ["0000/0000_001_07_0303morning_0020_0.jpg", "0003/0003_000_02_0303noon_0001_0.jpg"]


def make_msmt(base: Path, version: str = "V1", lists: bool = True) -> Path:
    """A tiny MSMT17 ``V1`` or ``V2`` at ``base/MSMT17_<version>`` with its four list files."""
    d = base / f"MSMT17_{version}"
    tr, te = ("train", "test") if version == "V1" else ("mask_train_v2", "mask_test_v2")
    touch(d / tr, MSMT_TRAIN + MSMT_VAL)
    touch(d / te, MSMT_QUERY + MSMT_GALLERY)
    if lists:
        for name, entries in (("list_train", MSMT_TRAIN), ("list_val", MSMT_VAL),
                              ("list_query", MSMT_QUERY), ("list_gallery", MSMT_GALLERY)):
            text = "".join(f"{e} {int(e[:4]) + 500}\n" for e in entries)  # label ignored
            (d / f"{name}.txt").write_text(text)
    return d


def assert_dataset_contract(ds: ReidDataset) -> None:
    """Invariants of every loaded dataset (splits of :class:`Sample`, ids, cameras, stats)."""
    assert isinstance(ds.name, str) and ds.name, "dataset classes need a non-empty name"
    for split, samples in ds.splits().items():
        assert isinstance(samples, list), f"split {split} must be a list"
        for s in samples:
            assert isinstance(s, Sample), f"split {split} holds {s!r}, not a Sample"
            assert isinstance(s.pid, int) and isinstance(s.camid, int)
            assert s.pid != -1, f"split {split}: junk (pid -1) must be skipped"
            if ds.cross_modality:
                assert s.modality is not None, f"split {split}: {s.path} lacks a modality"
    assert ds.dataset_dir.is_dir()
    if ds.has_camids:
        assert all(s.camid >= 0 for s in ds.train + ds.query + ds.gallery)
    assert set(ds.stats()) == {"train", "query", "gallery"}
    assert ds.num_train_pids == len({s.pid for s in ds.train})
