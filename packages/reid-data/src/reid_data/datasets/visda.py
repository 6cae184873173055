"""VisDA-2020 (PersonX source -> real target), METHODS §9.5 and the MMT+ loaders.

``train`` is the source (``personX/image_train`` or a translated copy such as ``personX_sda``);
``query``/``gallery`` are ``target_validation`` in index-file order (labelled, used for model
selection); ``extra_splits`` holds ``target_train`` (pid 0 for all, camera from
``label_target_training.txt``), ``target_validation_query``/``_gallery`` (the same lists as
``query``/``gallery``) and, when present, ``target_test_query``/``_gallery`` (``(path, 0, 0)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reid_data._parse import (
    MARKET_PATTERN,
    VISDA_PERSONX_PATTERN,
    camera_range,
    camera_table,
    list_images,
    parse_named,
    read_first_column,
)
from reid_data.base import DatasetLayoutError, Layout, ReidDataset, Sample, relabel

#: Raw target cameras {1, 2, 4, 5, 6} -> {0..4} (target_training, target_validation, camera model).
TARGET_CAMERAS = {1: 0, 2: 1, 4: 2, 5: 3, 6: 4}
_FOLDERS = ("visda2020", "VisDA2020", "VisDA-2020", "visda", "data")


class VisDA2020(ReidDataset):
    """VisDA-2020; option ``source`` names the source folder (``personX``, ``personX_sda``,
    ``personX_spgan`` or any folder holding ``image_train/`` with PersonX filenames)."""

    name = "visda2020"
    keys = ("visda2020", "visda")

    def __init__(self, root: str | Path, *, source: str = "personX", **options: Any) -> None:
        if not source or "/" in source or "\\" in source:
            raise ValueError(
                f"dataset 'visda2020': option source={source!r} must be a folder name such as "
                "'personX', 'personX_sda' or 'personX_spgan'"
            )
        self.source = source
        super().__init__(root, **options)

    def active_layouts(self) -> tuple[Layout, ...]:
        markers = (f"{self.source}/image_train", "target_training/image_train",
                   "target_validation/image_query", "target_validation/image_gallery")
        return (Layout("VisDA-2020", _FOLDERS, markers),)

    def _index(self, split_dir: Path, index_name: str) -> list[Path]:
        index_file = self.require(self.dataset_dir / index_name, "index file")
        return [split_dir / name for name in read_first_column(index_file)]

    def _validation(self, sub: str, index_name: str) -> list[Sample]:
        paths = self._index(self.dataset_dir / "target_validation" / sub, index_name)
        return parse_named(paths, MARKET_PATTERN, dataset=self.name,
                           camera=camera_table(TARGET_CAMERAS), pid_range=(0, 100))

    def _target_training(self) -> list[Sample]:
        folder = self.dataset_dir / "target_training"
        label_file = self.require(folder / "label_target_training.txt", "camera list file")
        out = []
        for lineno, line in enumerate(label_file.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                cam = TARGET_CAMERAS[int(parts[1])]
            except (IndexError, ValueError, KeyError):
                raise ValueError(
                    f"dataset 'visda2020': line {lineno} of {label_file} ({line!r}) is not "
                    f"'<image> <camera in {sorted(TARGET_CAMERAS)}> ...'"
                ) from None
            out.append(Sample(str(folder / "image_train" / parts[0]), 0, cam))
        return out

    def load(self) -> None:
        src = self.dataset_dir / self.source / "image_train"
        self.train = relabel(parse_named(list_images(src), VISDA_PERSONX_PATTERN,
                                         dataset=self.name, camera=camera_range(1, 12, 1),
                                         pid_range=(0, 700)))
        self.query = self._validation("image_query", "index_validation_query.txt")
        self.gallery = self._validation("image_gallery", "index_validation_gallery.txt")
        self.extra_splits = {
            "target_train": self._target_training(),
            "target_validation_query": self.query,
            "target_validation_gallery": self.gallery,
        }
        stats: dict[str, dict[str, int | None]] = {
            "train": {"images": 20280, "ids": 700, "cameras": 6},
            "query": {"images": 377, "ids": 100, "cameras": None},
            "gallery": {"images": 3600, "ids": None, "cameras": None},
            "target_train": {"images": 13198, "ids": None, "cameras": 5},
        }
        test_dir = self.dataset_dir / "target_test"
        if test_dir.is_dir():
            for sub, key, index_name, n in (
                ("image_query", "target_test_query", "index_test_query.txt", 1578),
                ("image_gallery", "target_test_gallery", "index_test_gallery.txt", 24006),
            ):
                paths = self._index(test_dir / sub, index_name)
                self.extra_splits[key] = [Sample(str(p), 0, 0) for p in paths]
                stats[key] = {"images": n, "ids": None, "cameras": None}
        else:
            self.notes.append(f"{test_dir} not found: target_test splits not loaded (optional)")
        self.official_stats = stats
        if not self.train:
            raise DatasetLayoutError(f"dataset 'visda2020': no *.jpg in {src}",
                                     expected=str(src), tried=[str(src)])
