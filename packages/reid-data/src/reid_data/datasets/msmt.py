"""MSMT17 V1 (``train/``, ``test/``) and V2 (``mask_train_v2/``, ``mask_test_v2/``), METHODS §9.3.

Both versions come with the list files ``list_{train,val,query,gallery}.txt`` (``<pid>/<file>
<label>`` per line). As in MMT: train = list_train + list_val; pid and camera are parsed from the
basename with ``([-\\d]+)_([-\\d]+)_([-\\d]+)`` (pid, index, cam); **cameras stay 1-based (1..15)**;
train pids are not relabelled (already 0..1040); the label column is ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reid_data._parse import MSMT_PATTERN, choice, read_first_column
from reid_data.base import DatasetLayoutError, Layout, ReidDataset, Sample

_V1 = Layout("MSMT17_V1", ("MSMT17_V1", "MSMT17"), ("train", "test"))
_V2 = Layout("MSMT17_V2", ("MSMT17_V2", "MSMT17"), ("mask_train_v2", "mask_test_v2"))
_DIRS = {"MSMT17_V1": ("train", "test"), "MSMT17_V2": ("mask_train_v2", "mask_test_v2")}
LIST_FILES = ("list_train.txt", "list_val.txt", "list_query.txt", "list_gallery.txt")


class MSMT17(ReidDataset):
    """MSMT17; option ``version`` = ``"auto"`` (V1 preferred, else V2), ``"v1"`` or ``"v2"``."""

    name = "msmt17"
    keys = ("msmt17", "msmt")
    layouts = (_V1, _V2)
    camid_base = 1

    def __init__(self, root: str | Path, *, version: str = "auto", **options: Any) -> None:
        version = str(version).lower()
        choice(self.name, "version", version, ("auto", "v1", "v2"))
        self.version = version
        super().__init__(root, **options)

    def active_layouts(self) -> tuple[Layout, ...]:
        return {"auto": (_V1, _V2), "v1": (_V1,), "v2": (_V2,)}[self.version]

    def resolve_root(self, root: Path) -> tuple[str, Path]:
        try:
            return super().resolve_root(root)
        except DatasetLayoutError as exc:
            if self.version == "auto":
                raise
            # The V1/V2 confusion (MMT#10, fast-reid#373): say which version *is* there.
            other = _V2 if self.version == "v1" else _V1
            for cand in self.candidate_dirs(root, other):
                if all((cand / m).exists() for m in other.markers):
                    raise DatasetLayoutError(
                        f"dataset 'msmt17': version={self.version!r} expects {exc.expected}, but "
                        f"{cand} holds {other.label} ({', '.join(other.markers)}). Pass "
                        f"version='{other.label[-2:].lower()}' or version='auto'.",
                        expected=exc.expected,
                        tried=exc.tried,
                    ) from None
            raise

    def _pluck(self, list_name: str, subdir: str) -> list[Sample]:
        list_file = self.dataset_dir / list_name
        if not list_file.exists():
            raise DatasetLayoutError(
                f"dataset 'msmt17': list file {list_file} is missing ({self.layout} needs "
                f"{', '.join(LIST_FILES)} next to {subdir}/; they ship with the archive from the "
                f"dataset owners)",
                expected=str(list_file),
                tried=[str(list_file)],
            )
        out = []
        for rel in read_first_column(list_file):
            match = MSMT_PATTERN.search(Path(rel).name)
            if match is None:
                raise ValueError(
                    f"dataset 'msmt17': entry {rel!r} of {list_file} does not match "
                    f"{MSMT_PATTERN.pattern!r}"
                )
            pid, _, cam = (int(g) for g in match.groups())
            out.append(Sample(str(self.dataset_dir / subdir / rel), pid, cam))
        return out

    def load(self) -> None:
        train_dir, test_dir = _DIRS[self.layout]
        self.train = self._pluck("list_train.txt", train_dir) + self._pluck("list_val.txt",
                                                                            train_dir)
        self.query = self._pluck("list_query.txt", test_dir)
        self.gallery = self._pluck("list_gallery.txt", test_dir)
        self.official_stats = {
            "train": {"images": 32621, "ids": 1041, "cameras": 15},
            "query": {"images": 11659, "ids": 3060, "cameras": 15},
            "gallery": {"images": 82161, "ids": 3060, "cameras": 15},
        }
        self.notes.append(
            f"layout {self.layout} at {self.dataset_dir}"
            + (" (faces masked; MMT/PPLR report results on MSMT17_V1, split sizes are the same)"
               if self.layout == "MSMT17_V2" else "")
            + "; cameras kept 1-based (1..15) as in the official loaders"
        )
