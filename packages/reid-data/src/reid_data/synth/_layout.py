"""Planning the files of a synthetic dataset (which person, camera and image goes where).

Planning is cheap and runs in the parent process; rendering (``_generate``) runs the plan. Every
random choice here uses a generator keyed by ``(seed, style, identity)``, so the plan of identity
``p`` does not depend on how many identities are generated after it.

Market-1501 layout (``Market-1501-v15.09.15/``): pids 1..N; the first ``N // 2`` are training
identities (``bounding_box_train``), the rest test identities. Each identity is seen by 2..C of the
C cameras, 1 to 3 images around ``images_per_camera`` per camera (at least 2 for test identities). For a test
identity, ``queries_per_id`` of its cameras give one image each to ``query``; the rest go to
``bounding_box_test``, so every query has a same-identity gallery image in another camera.
The gallery also holds distractors (pid ``0000``, people who are nobody's match) and junk
(pid ``-1``: background-only crops and badly framed detections), named like Market's.

SYSU-MM01 layout (``SYSU-MM01/``): cam1, cam2, cam4, cam5 visible, cam3 and cam6 infrared,
``camK/<pid:04d>/<img:04d>.jpg``; each identity is seen by at least two visible cameras and at
least one infrared camera; ids split 60 / 20 / 20 % into ``exp/train_id.txt``, ``val_id.txt``,
``test_id.txt``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MARKET_DIR = "Market-1501-v15.09.15"
SYSU_DIR = "SYSU-MM01"
SYSU_IR_CAMS = (3, 6)
SYSU_RGB_CAMS = (1, 2, 4, 5)
STYLE_CODES = {"source": 1, "target": 2}

# What an image shows: a planned identity, a one-off distractor, a junk crop.
PERSON, DISTRACTOR, JUNK_PERSON, JUNK_EMPTY = 0, 1, 2, 3


@dataclass(frozen=True)
class Shot:
    """One image to render: where it goes and what it shows."""

    relpath: str  # relative to the output root
    kind: int
    key: int  # pid for PERSON, running index otherwise
    cam: int  # 1-based camera number
    index: int  # image index of (key, cam), keys its random generator
    split: str


def plan_rng(seed: int, style: str, key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, STYLE_CODES[style], 6, key]))


def _count(rng: np.random.Generator, per_cam: int, minimum: int) -> int:
    return max(minimum, per_cam + int(rng.integers(-1, 2)))


def plan_market(*, seed: int, style: str, ids: int, cameras: int, images_per_camera: int,
                queries_per_id: int, distractors: int, junk: int) -> list[Shot]:
    """All shots of a Market-1501-style dataset, in a fixed order."""
    shots: list[Shot] = []
    frame = [0] * (cameras + 1)

    def name(pid: str, cam: int) -> str:
        frame[cam] += 1
        return f"{pid}_c{cam}s1_{frame[cam] * 25:06d}_{1 + frame[cam] % 3:02d}.jpg"

    n_train = ids // 2
    for pid in range(1, ids + 1):
        rng = plan_rng(seed, style, pid)
        k = int(rng.integers(2, cameras + 1))
        cams = sorted(int(c) + 1 for c in rng.choice(cameras, size=k, replace=False))
        test = pid > n_train
        query_cams = set(int(c) for c in rng.permutation(cams)[:queries_per_id]) if test else set()
        for cam in cams:
            for i in range(_count(rng, images_per_camera, 2 if test else 1)):
                split = "bounding_box_train" if not test else ("query" if cam in query_cams and i == 0
                                                               else "bounding_box_test")
                shots.append(Shot(f"{MARKET_DIR}/{split}/{name(f'{pid:04d}', cam)}", PERSON, pid, cam, i, split))
    rng = plan_rng(seed, style, 0)
    for j in range(distractors):
        cam = int(rng.integers(1, cameras + 1))
        shots.append(Shot(f"{MARKET_DIR}/bounding_box_test/{name('0000', cam)}", DISTRACTOR, j, cam, 0,
                          "bounding_box_test"))
    for j in range(junk):
        cam = int(rng.integers(1, cameras + 1))
        kind = JUNK_EMPTY if j % 2 == 0 else JUNK_PERSON
        shots.append(Shot(f"{MARKET_DIR}/bounding_box_test/{name('-1', cam)}", kind, j, cam, 0, "bounding_box_test"))
    return shots


def sysu_split(ids: int) -> tuple[list[int], list[int], list[int]]:
    """(train, val, test) pids of a SYSU-like dataset of ``ids`` identities (60 / 20 / 20 %)."""
    n_val = max(1, round(0.2 * ids))
    n_test = max(1, round(0.2 * ids))
    n_train = ids - n_val - n_test
    if n_train < 1:
        raise ValueError(f"ids={ids} is too few for the rgb-ir layout; need at least 3")
    pids = list(range(1, ids + 1))
    return pids[:n_train], pids[n_train:n_train + n_val], pids[n_train + n_val:]


def plan_sysu(*, seed: int, style: str, ids: int, images_per_camera: int) -> list[Shot]:
    """All shots of a SYSU-MM01-style dataset, in a fixed order."""
    train, val, _ = sysu_split(ids)
    shots: list[Shot] = []
    for pid in range(1, ids + 1):
        rng = plan_rng(seed, style, pid)
        rgb = [c for c in SYSU_RGB_CAMS if rng.random() < 0.7]
        while len(rgb) < 2:
            extra = int(rng.choice([c for c in SYSU_RGB_CAMS if c not in rgb]))
            rgb = sorted(rgb + [extra])
        ir = [c for c in SYSU_IR_CAMS if rng.random() < 0.75] or [int(rng.choice(SYSU_IR_CAMS))]
        split = "train" if pid in train else ("val" if pid in val else "test")
        for cam in sorted(rgb + ir):
            for i in range(_count(rng, images_per_camera, 1)):
                shots.append(Shot(f"{SYSU_DIR}/cam{cam}/{pid:04d}/{i + 1:04d}.jpg", PERSON, pid, cam, i, split))
    return shots


def market_counts(shots: list[Shot]) -> dict[str, dict[str, int]]:
    """Images / identities / cameras per folder, as a Market loader would see the raw files."""
    out: dict[str, dict[str, int]] = {}
    for folder in ("bounding_box_train", "query", "bounding_box_test"):
        sel = [s for s in shots if s.split == folder]
        pids = {s.key for s in sel if s.kind == PERSON}
        out[folder] = {
            "images": len(sel),
            "ids": len(pids),
            "cameras": len({s.cam for s in sel}),
            "distractors": sum(s.kind == DISTRACTOR for s in sel),
            "junk": sum(s.kind in (JUNK_PERSON, JUNK_EMPTY) for s in sel),
        }
    return out


def sysu_counts(shots: list[Shot]) -> dict[str, dict[str, int]]:
    """Images (visible / infrared) and identities per id split."""
    out: dict[str, dict[str, int]] = {}
    for split in ("train", "val", "test"):
        sel = [s for s in shots if s.split == split]
        out[split] = {
            "ids": len({s.key for s in sel}),
            "rgb_images": sum(s.cam not in SYSU_IR_CAMS for s in sel),
            "ir_images": sum(s.cam in SYSU_IR_CAMS for s in sel),
        }
    return out
