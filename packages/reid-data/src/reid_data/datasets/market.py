"""Market-style datasets: one folder per split, pid and camera in the filename.

Market-1501, DukeMTMC-reID, VeRi-776 and PersonX (METHODS §9.1, §9.2, §9.4; SpCL ``personx.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar

from reid_data._parse import (
    MARKET_PATTERN,
    MULTI_DIGIT_CAM_PATTERN,
    camera_range,
    camera_table,
    list_images,
    parse_named,
)
from reid_data.base import Layout, ReidDataset, Sample, relabel

_Stats = dict[str, dict[str, int | None]]


class MarketStyleDataset(ReidDataset):
    """Shared loader: ``train_dir``/``query_dir``/``gallery_dir`` of ``*.jpg`` parsed by regex."""

    train_dir: ClassVar[str] = "bounding_box_train"
    query_dir: ClassVar[str] = "query"
    gallery_dir: ClassVar[str] = "bounding_box_test"
    pattern: ClassVar[re.Pattern[str]] = MARKET_PATTERN
    pid_range: ClassVar[tuple[int, int] | None] = None
    skip_junk: ClassVar[bool] = True
    expected_stats: ClassVar[_Stats | None] = None

    @classmethod
    def camera(cls) -> Callable[[int], int]:
        raise NotImplementedError

    def _parse(self, folder: str) -> list[Sample]:
        path = self.require(self.dataset_dir / folder, "folder")
        return parse_named(
            list_images(path),
            self.pattern,
            dataset=self.name,
            camera=self.camera(),
            pid_range=self.pid_range,
            skip_junk=self.skip_junk,
        )

    def load(self) -> None:
        self.train = relabel(self._parse(self.train_dir))
        self.query = self._parse(self.query_dir)
        self.gallery = self._parse(self.gallery_dir)
        self.official_stats = self.expected_stats


def _market_layout(folder: str, train: str, query: str, gallery: str) -> tuple[Layout, ...]:
    return (Layout(folder, (folder,), (train, query, gallery)),)


class Market1501(MarketStyleDataset):
    """Market-1501 (``Market-1501-v15.09.15/``): junk pid -1 skipped, distractors pid 0 kept,
    cameras 1..6 -> 0..5, train pids relabelled."""

    name = "market1501"
    keys = ("market1501", "market")
    layouts = _market_layout("Market-1501-v15.09.15", "bounding_box_train", "query",
                             "bounding_box_test")
    pid_range = (0, 1501)
    expected_stats: ClassVar[_Stats | None] = {
        "train": {"images": 12936, "ids": 751, "cameras": 6},
        "query": {"images": 3368, "ids": 750, "cameras": 6},
        "gallery": {"images": 15913, "ids": 751, "cameras": 6},
    }

    @classmethod
    def camera(cls) -> Callable[[int], int]:
        return camera_range(1, 6, 1)


class DukeMTMC(MarketStyleDataset):
    """DukeMTMC-reID (``DukeMTMC-reID/``): cameras 1..8 -> 0..7, no junk class, train relabelled."""

    name = "dukemtmc"
    keys = ("dukemtmc", "dukemtmcreid", "dukemtmc-reid")
    layouts = _market_layout("DukeMTMC-reID", "bounding_box_train", "query", "bounding_box_test")
    expected_stats: ClassVar[_Stats | None] = {
        "train": {"images": 16522, "ids": 702, "cameras": 8},
        "query": {"images": 2228, "ids": 702, "cameras": 8},
        "gallery": {"images": 17661, "ids": 1110, "cameras": 8},
    }

    @classmethod
    def camera(cls) -> Callable[[int], int]:
        return camera_range(1, 8, 1)


class DukeMTMCreID(DukeMTMC):
    """Alias of ``dukemtmc`` under the torchreid/fast-reid key."""

    name = "dukemtmcreid"


class VeRi776(MarketStyleDataset):
    """VeRi-776 (``VeRi/``): ``image_{train,query,test}``, cameras ``c001..c020`` -> 0..19,
    pid -1 skipped, train relabelled."""

    name = "veri776"
    keys = ("veri776", "veri")
    layouts = (
        Layout("VeRi", ("VeRi", "VeRi_with_plate", "VeRi-776"),
               ("image_train", "image_query", "image_test")),
    )
    train_dir, query_dir, gallery_dir = "image_train", "image_query", "image_test"
    pattern = MULTI_DIGIT_CAM_PATTERN
    pid_range = (0, 776)
    expected_stats: ClassVar[_Stats | None] = {
        "train": {"images": 37778, "ids": 576, "cameras": 20},
        "query": {"images": 1678, "ids": 200, "cameras": None},
        "gallery": {"images": 11579, "ids": 200, "cameras": None},
    }

    @classmethod
    def camera(cls) -> Callable[[int], int]:
        return camera_range(1, 20, 1)


class PersonX(MarketStyleDataset):
    """PersonX as SpCL/cluster-contrast load it (``PersonX/`` or OpenUnReID's ``subset1/``):
    cameras {3, 4, 8, 10, 11, 12} -> 0..5, train relabelled, no junk class."""

    name = "personx"
    keys = ("personx",)
    layouts = (
        Layout("PersonX", ("PersonX", "personx", "subset1"),
               ("bounding_box_train", "query", "bounding_box_test")),
    )
    pattern = MULTI_DIGIT_CAM_PATTERN
    skip_junk = False
    expected_stats: ClassVar[_Stats | None] = {
        "train": {"images": 9840, "ids": None, "cameras": 6},
        "query": {"images": 5136, "ids": None, "cameras": 6},
        "gallery": {"images": 30816, "ids": None, "cameras": 6},
    }

    @classmethod
    def camera(cls) -> Callable[[int], int]:
        return camera_table({3: 0, 4: 1, 8: 2, 10: 3, 11: 4, 12: 5})
