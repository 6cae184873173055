"""A tiny Market-1501-style dataset for the runner's tests (identity = colour pattern)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_market(root: Path, *, train_ids: int = 8, test_ids: int = 6, per_cam: int = 2,
                 cams: int = 2, seed: int = 0, size: tuple[int, int] = (32, 16)) -> Path:
    """Write ``root/Market-1501-v15.09.15/{bounding_box_train,bounding_box_test,query}``."""
    rng = np.random.default_rng(seed)
    base = root / "Market-1501-v15.09.15"
    h, w = size
    palette = rng.integers(0, 255, size=(train_ids + test_ids + 1, 3, 3))

    def img(pid: int, cam: int) -> Image.Image:
        top, mid, bot = palette[pid]
        a = np.zeros((h, w, 3), dtype=np.float64)
        a[: h // 3] = top
        a[h // 3: 2 * h // 3] = mid
        a[2 * h // 3:] = bot
        a += cam * 30 + rng.normal(0, 70, size=a.shape)
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))

    def write(folder: str, pids: range, n: int) -> None:
        d = base / folder
        d.mkdir(parents=True, exist_ok=True)
        for pid in pids:
            for cam in range(1, cams + 1):
                for k in range(n):
                    img(pid, cam).save(d / f"{pid:04d}_c{cam}s1_{k:06d}_00.jpg")

    write("bounding_box_train", range(1, train_ids + 1), per_cam)
    write("bounding_box_test", range(train_ids + 1, train_ids + test_ids + 1), per_cam)
    qd = base / "query"
    qd.mkdir(parents=True, exist_ok=True)
    for pid in range(train_ids + 1, train_ids + test_ids + 1):
        img(pid, 1).save(qd / f"{pid:04d}_c1s1_{900:06d}_00.jpg")
    return root


def write_stripes(root: Path, *, test_identity: str = "bottom", ids: int = 6, seed: int = 0,
                  size: tuple[int, int] = (32, 16)) -> Path:
    """A Market-style dataset plus a labelled validation split in ``val_query``/``val_gallery``.

    An image is three horizontal stripes. In the validation split an identity is the colour of
    the *top* stripe (the bottom one is random per image); in the test split (``query``,
    ``bounding_box_test``) it is the colour of the ``test_identity`` stripe (``bottom`` or
    ``top``), the other one random. A network that looks only at the top stripe is then good on
    validation, and on test only when ``test_identity="top"``: selection on validation can be
    told apart from selection on test. Pids: train 1..ids, test ids+1..2*ids, validation
    2*ids+1..3*ids; 2 cameras; queries on camera 1, gallery images on both.
    """
    if test_identity not in ("top", "bottom"):
        raise ValueError(f"test_identity: 'top' or 'bottom', not {test_identity!r}")
    rng = np.random.default_rng(seed)
    base = root / "Market-1501-v15.09.15"
    h, w = size
    palette = rng.integers(0, 256, size=(3 * ids + 1, 3))

    def img(pid: int, cam: int, identity_stripe: str) -> Image.Image:
        a = np.zeros((h, w, 3), dtype=np.float64)
        top, bottom = rng.integers(0, 256, size=(2, 3))
        if identity_stripe == "top":
            top = palette[pid]
        else:
            bottom = palette[pid]
        a[: h // 3] = top
        a[h // 3: 2 * h // 3] = 128
        a[2 * h // 3:] = bottom
        a += cam * 10 + rng.normal(0, 20, size=a.shape)
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))

    def write(folder: str, pids: range, cams: tuple[int, ...], n: int, stripe: str) -> None:
        d = base / folder
        d.mkdir(parents=True, exist_ok=True)
        for pid in pids:
            for cam in cams:
                for k in range(n):
                    img(pid, cam, stripe).save(d / f"{pid:04d}_c{cam}s1_{k:06d}_00.jpg")

    test, val = range(ids + 1, 2 * ids + 1), range(2 * ids + 1, 3 * ids + 1)
    write("bounding_box_train", range(1, ids + 1), (1, 2), 2, "top")
    write("query", test, (1,), 1, test_identity)
    write("bounding_box_test", test, (1, 2), 2, test_identity)
    write("val_query", val, (1,), 1, "top")
    write("val_gallery", val, (1, 2), 2, "top")
    return root
