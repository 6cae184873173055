"""RGB-IR datasets: SYSU-MM01 and RegDB (METHODS §9.6, §9.7, protocols §7.6).

Samples carry ``modality`` ``"rgb"`` or ``"ir"``. SYSU-MM01 keeps the raw 1-based camera numbers
(cam1..cam6) because its protocol is written in them (queries from cam3 drop gallery cam2).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reid_data._parse import choice, read_id_file
from reid_data.base import DatasetLayoutError, Layout, ReidDataset, Sample, relabel

SYSU_RGB_CAMERAS = {"all": (1, 2, 4, 5), "indoor": (1, 2)}
SYSU_IR_CAMERAS = (3, 6)


def sysu_gallery(
    pool: Sequence[Sample], trial: int, *, shot: int = 1, cameras: Sequence[int] | None = None
) -> list[Sample]:
    """The SYSU-MM01 gallery of one trial, drawn from the ordered RGB test pool.

    As the official test code: ``random.seed(trial)``, then for each test id (ascending) and each
    RGB camera (in protocol order) with images, one ``random.choice`` of the sorted files
    (single-shot). ``shot > 1`` draws ``random.sample`` of ``min(shot, n)`` files per id and camera
    (multi-shot; same distribution as the official code, not its exact draw). ``cameras`` restricts
    the pool (``(1, 2)`` for indoor-search).
    """
    if shot < 1:
        raise ValueError(f"shot must be >= 1, got {shot}")
    rng = random.Random(trial)
    groups: dict[tuple[int, int], list[Sample]] = {}
    for s in pool:
        if cameras is None or s.camid in cameras:
            groups.setdefault((s.pid, s.camid), []).append(s)
    out: list[Sample] = []
    for files in groups.values():
        if shot == 1:
            out.append(rng.choice(files))
        else:
            out.extend(rng.sample(files, min(shot, len(files))))
    return out


class SYSUMM01(ReidDataset):
    """SYSU-MM01. Options: ``mode`` ``"all"``/``"indoor"`` (gallery cameras 1,2,4,5 or 1,2);
    ``trial`` (``None``: ``gallery`` is the whole RGB test pool of the mode; an int: the sampled
    gallery of that trial, see :func:`sysu_gallery`); ``shot`` (1 single-shot, 10 multi-shot).

    ``train`` = the RGB then the IR images of ``train_id`` ∪ ``val_id`` (ids ascending, cameras in
    order, files sorted), pids relabelled ascending; ``query`` = every IR image (cam3, cam6) of the
    test ids; ``extra_splits["gallery_pool"]`` = every RGB image of the test ids on the mode's
    cameras, from which each trial draws.
    """

    name = "sysu_mm01"
    keys = ("sysu_mm01", "sysu", "sysu-mm01")
    layouts = (
        Layout("SYSU-MM01", ("SYSU-MM01", "SYSU_MM01", "sysu-mm01"),
               ("cam1", "cam2", "cam3", "cam4", "cam5", "cam6", "exp")),
    )
    camid_base = 1
    cross_modality = True

    def __init__(
        self,
        root: str | Path,
        *,
        mode: str = "all",
        trial: int | None = None,
        shot: int = 1,
        **options: Any,
    ) -> None:
        choice(self.name, "mode", mode, tuple(SYSU_RGB_CAMERAS))
        choice(self.name, "shot", int(shot), (1, 10))
        self.mode, self.trial, self.shot = mode, None if trial is None else int(trial), int(shot)
        super().__init__(root, **options)

    def _ids(self, name: str) -> list[int]:
        return read_id_file(self.require(self.dataset_dir / "exp" / name, "id file"))

    def _collect(self, ids: Sequence[int], cameras: Sequence[int]) -> list[Sample]:
        out = []
        for pid in sorted(ids):
            for cam in cameras:
                folder = self.dataset_dir / f"cam{cam}" / f"{pid:04d}"
                if folder.is_dir():
                    modality = "ir" if cam in SYSU_IR_CAMERAS else "rgb"
                    out += [Sample(str(p), pid, cam, modality)
                            for p in sorted(folder.iterdir()) if p.is_file()]
        return out

    def load(self) -> None:
        train_ids = self._ids("train_id.txt") + self._ids("val_id.txt")
        test_ids = self._ids("test_id.txt")
        rgb = self._collect(train_ids, SYSU_RGB_CAMERAS["all"])
        ir = self._collect(train_ids, SYSU_IR_CAMERAS)
        if not rgb or not ir:
            raise DatasetLayoutError(
                f"dataset 'sysu_mm01': no training images of the ids in exp/train_id.txt and "
                f"exp/val_id.txt under {self.dataset_dir}/cam{{1..6}}/<pid:04d>/",
                expected=f"{self.dataset_dir}/cam1/<pid:04d>/", tried=[str(self.dataset_dir)],
            )
        self.train = relabel(rgb + ir)
        self.query = self._collect(test_ids, SYSU_IR_CAMERAS)
        pool = self._collect(test_ids, SYSU_RGB_CAMERAS[self.mode])
        self.extra_splits = {"gallery_pool": pool}
        self.gallery = pool if self.trial is None else sysu_gallery(pool, self.trial,
                                                                     shot=self.shot)
        self.official_stats = {
            "train": {"images": 22258 + 11909, "ids": 395, "cameras": 6},
            "query": {"images": 3803, "ids": 96, "cameras": 2},
        }
        if self.trial is None:
            self.notes.append("gallery = whole RGB test pool; the protocol samples one image per "
                              "id and camera per trial (option trial=0..9)")


class RegDB(ReidDataset):
    """RegDB. Options: ``trial`` 1..10 (which ``idx/*_{trial}.txt`` files), ``direction``
    ``"visible_to_thermal"`` (query visible, gallery thermal; the default) or
    ``"thermal_to_visible"``. Labels come from the idx files; camid 0 = visible, 1 = thermal."""

    name = "regdb"
    keys = ("regdb",)
    layouts = (Layout("RegDB", ("RegDB", "regdb"), ("idx",)),)
    cross_modality = True

    def __init__(
        self,
        root: str | Path,
        *,
        trial: int = 1,
        direction: str = "visible_to_thermal",
        **options: Any,
    ) -> None:
        choice(self.name, "trial", int(trial), range(1, 11))
        choice(self.name, "direction", direction, ("visible_to_thermal", "thermal_to_visible"))
        self.trial, self.direction = int(trial), direction
        super().__init__(root, **options)

    def _idx(self, split: str, modality: str) -> list[Sample]:
        name = f"{split}_{modality}_{self.trial}.txt"
        idx_file = self.require(self.dataset_dir / "idx" / name, "idx file")
        out = []
        for lineno, line in enumerate(idx_file.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                rel, label = parts[0], int(parts[1])
            except (IndexError, ValueError):
                raise ValueError(f"dataset 'regdb': line {lineno} of {idx_file} ({line!r}) is "
                                 "not '<relative path> <label>'") from None
            cam, mod = (0, "rgb") if modality == "visible" else (1, "ir")
            out.append(Sample(str(self.dataset_dir / rel), label, cam, mod))
        return out

    def load(self) -> None:
        self.train = self._idx("train", "visible") + self._idx("train", "thermal")
        visible, thermal = self._idx("test", "visible"), self._idx("test", "thermal")
        self.extra_splits = {"test_visible": visible, "test_thermal": thermal}
        if self.direction == "visible_to_thermal":
            self.query, self.gallery = visible, thermal
        else:
            self.query, self.gallery = thermal, visible
        self.official_stats = {
            "train": {"images": 4120, "ids": 206, "cameras": 2},
            "query": {"images": 2060, "ids": 206, "cameras": 1},
            "gallery": {"images": 2060, "ids": 206, "cameras": 1},
        }
