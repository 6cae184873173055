"""The synthetic data means something: identities are separable, the two styles differ."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from reid_data.synth import synthesize

N_IDS = 12
KW = {"ids": N_IDS, "image_size": (64, 32), "images_per_camera": 2, "seed": 0}


def _load(root: Path) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    imgs, pids, cams = [], [], []
    for p in sorted((root / "Market-1501-v15.09.15").glob("*/*.jpg")):
        m = re.search(r"([-\d]+)_c(\d)", p.name)
        assert m is not None
        if int(m.group(1)) > 0:
            imgs.append(cv2.imread(str(p)))
            pids.append(int(m.group(1)))
            cams.append(int(m.group(2)))
    return imgs, np.asarray(pids), np.asarray(cams)


def _hist(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    hsv = cv2.cvtColor(img[h // 8: h * 7 // 8, w // 4: w * 3 // 4], cv2.COLOR_BGR2HSV)
    parts = []
    for band in np.array_split(hsv, 3, axis=0):  # head+torso / middle / legs
        hist = cv2.calcHist([band], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
        parts.append(np.sqrt(hist / hist.sum()))
    return np.concatenate(parts)


def _cross_camera_rank1(imgs: list[np.ndarray], pids: np.ndarray, cams: np.ndarray) -> float:
    x = np.stack([_hist(i) for i in imgs])
    sim = x @ x.T
    hits = []
    for i in range(len(x)):
        cand = np.where(cams != cams[i], sim[i], -np.inf)
        hits.append(pids[int(np.argmax(cand))] == pids[i])
    return float(np.mean(hits))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[np.ndarray], np.ndarray, np.ndarray]]:
    root = tmp_path_factory.mktemp("q")
    return {s: _load(synthesize(root / s, style=s, **KW)) for s in ("source", "target")}  # type: ignore[arg-type]


def test_identities_separable_by_colour_histogram(data: dict) -> None:
    chance = 1.0 / N_IDS
    src = _cross_camera_rank1(*data["source"])
    tgt = _cross_camera_rank1(*data["target"])
    # A hand-made colour histogram, nearest neighbour in another camera: well above chance in both
    # styles; the target style (colour casts, clutter, noise) is much harder, as intended.
    assert src > 0.7, src
    assert tgt > 2.5 * chance, tgt
    assert tgt < src


def test_source_and_target_statistics_differ(data: dict) -> None:
    def stats(imgs: list[np.ndarray]) -> dict[str, float]:
        grey = [cv2.cvtColor(i, cv2.COLOR_BGR2GRAY).astype(np.float32) for i in imgs]
        hsv = [cv2.cvtColor(i, cv2.COLOR_BGR2HSV) for i in imgs]
        lap = [np.abs(cv2.Laplacian(g, cv2.CV_32F)) for g in grey]
        return {
            # high-frequency energy of the top corners (background): noise + JPEG + texture
            "noise": float(np.mean([np.r_[x[1:7, 1:6].ravel(), x[1:7, -6:-1].ravel()].mean() for x in lap])),
            "saturation": float(np.mean([h[..., 1].mean() for h in hsv])),
        }

    s, t = stats(data["source"][0]), stats(data["target"][0])
    assert t["noise"] > 3.0 * s["noise"], (s, t)
    assert t["saturation"] < 0.75 * s["saturation"], (s, t)
