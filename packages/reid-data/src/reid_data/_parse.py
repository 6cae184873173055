"""Shared parsing helpers: filename regexes, Market-style folders, list and id files."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from reid_data.base import Sample

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

#: Market-1501 / DukeMTMC-reID / VisDA validation: ``0002_c1s1_000451_03.jpg``.
MARKET_PATTERN = re.compile(r"([-\d]+)_c(\d)")
#: VeRi-776 and PersonX (SpCL): ``0001_c001_00016450_0.jpg``.
MULTI_DIGIT_CAM_PATTERN = re.compile(r"([-\d]+)_c([-\d]+)")
#: PersonX inside VisDA-2020: ``0001_c3s1_24.jpg``.
VISDA_PERSONX_PATTERN = re.compile(r"([-\d]+)_c(\d*)")
#: MSMT17: ``0000_000_01_0303morning_0015_0.jpg`` -> (pid, index, cam).
MSMT_PATTERN = re.compile(r"([-\d]+)_([-\d]+)_([-\d]+)")


def choice(name: str, option: str, value: object, choices: Iterable[object]) -> None:
    """Raise ``ValueError`` naming the option and its valid values unless ``value`` is one."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"dataset {name!r}: option {option}={value!r} is not one of {choices}")


def list_images(folder: Path, extensions: tuple[str, ...] = (".jpg",)) -> list[Path]:
    """Images directly inside ``folder``, sorted by name (the official loaders glob ``*.jpg``)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in extensions)


def parse_named(
    paths: Iterable[Path],
    pattern: re.Pattern[str],
    *,
    dataset: str,
    camera: Callable[[int], int],
    pid_range: tuple[int, int] | None = None,
    skip_junk: bool = True,
) -> list[Sample]:
    """Parse ``pid`` and raw camera from each basename with ``pattern`` (first two groups).

    Junk (pid ``-1``) is skipped when ``skip_junk``; ``camera`` maps the raw camera number to the
    stored camid and may raise ``KeyError`` for an unexpected camera. Pids outside ``pid_range``
    raise ``ValueError`` naming the file (the official loaders assert).
    """
    out: list[Sample] = []
    for path in paths:
        match = pattern.search(path.name)
        if match is None:
            raise ValueError(
                f"dataset {dataset!r}: file {path} does not match the naming pattern "
                f"{pattern.pattern!r}"
            )
        pid, cam = int(match.group(1)), int(match.group(2))
        if pid == -1 and skip_junk:
            continue
        if pid_range is not None and not pid_range[0] <= pid <= pid_range[1]:
            raise ValueError(
                f"dataset {dataset!r}: file {path} has pid {pid} outside {list(pid_range)}"
            )
        try:
            camid = camera(cam)
        except KeyError:
            raise ValueError(
                f"dataset {dataset!r}: file {path} has unexpected camera {cam}"
            ) from None
        out.append(Sample(str(path), pid, camid))
    return out


def camera_range(lo: int, hi: int, offset: int) -> Callable[[int], int]:
    """A camera map accepting ``lo..hi`` and subtracting ``offset``."""

    def _map(cam: int) -> int:
        if not lo <= cam <= hi:
            raise KeyError(cam)
        return cam - offset

    return _map


def camera_table(table: Mapping[int, int]) -> Callable[[int], int]:
    """A camera map from an explicit table (e.g. VisDA ``{1: 0, 2: 1, 4: 2, 5: 3, 6: 4}``)."""
    return lambda cam: table[cam]


def read_first_column(list_file: Path, sep: str | None = " ") -> list[str]:
    """First column of each non-empty line (VisDA index files, MSMT17 list files)."""
    out = []
    for line in list_file.read_text().splitlines():
        line = line.strip()
        if line:
            out.append(line.split(sep)[0])
    return out


def read_id_file(id_file: Path) -> list[int]:
    """SYSU-MM01 ``exp/*_id.txt``: the first line holds comma-separated ids."""
    lines = id_file.read_text().splitlines()
    if not lines or not lines[0].strip():
        raise ValueError(f"id file {id_file} is empty")
    return [int(tok) for tok in lines[0].split(",") if tok.strip()]
