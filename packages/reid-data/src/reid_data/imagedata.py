"""A torch ``Dataset`` over samples: fast decoding, transforms, unreadable-image handling."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

__all__ = ["ImageDataset", "UnreadableImageError", "read_image"]


class UnreadableImageError(OSError):
    """An image file is missing or cannot be decoded; ``path`` names it."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"cannot read image {path}: {reason}")


def read_image(path: str, backend: str = "cv2") -> Image.Image:
    """Decode ``path`` to an RGB PIL image with OpenCV (fast) or PIL.

    :raises UnreadableImageError: missing, empty or undecodable file (the message names it).
    """
    if backend == "cv2":
        import cv2

        # imdecode of the raw bytes: no stderr noise for bad files, works with any path encoding.
        try:
            buf = np.fromfile(path, dtype=np.uint8)
        except OSError as exc:
            raise UnreadableImageError(path, exc.strerror or str(exc)) from exc
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
        if img is None:
            raise UnreadableImageError(path, "empty file" if not buf.size else "not a decodable "
                                       "image (OpenCV)")
        return Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    if backend == "pil":
        try:
            with Image.open(path) as im:
                return im.convert("RGB")
        except (OSError, ValueError) as exc:
            raise UnreadableImageError(path, str(exc)) from exc
    raise ValueError(f"unknown image backend {backend!r}; choices: cv2, pil")


class ImageDataset(Dataset):
    """Items of ``samples`` (``(path, pid, camid[, modality])``) as dicts.

    ``item = {"image": tensor, "pid", "camid", "index", "path"[, "modality"]}``; a transform that
    returns a list (:class:`~reid_data.transforms.MultiView`) gives ``"images"`` instead of
    ``"image"``. ``pids`` overrides the labels (pseudo labels each epoch) without copying samples.

    ``on_error="raise"``: an unreadable image raises :class:`UnreadableImageError` naming it.
    ``on_error="skip"``: the item is replaced by the next readable one (its own pid/index are
    returned) and the file is counted in ``skipped`` / listed in ``skipped_paths``. With DataLoader
    workers the counters live in each worker; call :meth:`verify` first for exact counts.
    """

    def __init__(
        self,
        samples: Sequence[Any],
        transform: Callable[[Any], Any] | None = None,
        *,
        on_error: str = "raise",
        backend: str = "cv2",
        pids: Sequence[int] | None = None,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error={on_error!r}; choices: raise, skip")
        if backend not in ("cv2", "pil"):
            raise ValueError(f"unknown image backend {backend!r}; choices: cv2, pil")
        if pids is not None and len(pids) != len(samples):
            raise ValueError(f"pids has {len(pids)} entries for {len(samples)} samples")
        self.samples = list(samples)
        self.transform = transform
        self.on_error = on_error
        self.backend = backend
        self.pids = None if pids is None else [int(p) for p in pids]
        self.skipped = 0
        self.skipped_paths: list[str] = []

    def __len__(self) -> int:
        return len(self.samples)

    def _record_skip(self, path: str) -> None:
        if path not in self.skipped_paths:
            self.skipped_paths.append(path)
            self.skipped = len(self.skipped_paths)

    def verify(self) -> list[str]:
        """Decode every image once; with ``on_error="skip"`` drop the unreadable ones.

        Returns the unreadable paths (also counted in :attr:`skipped`).
        :raises UnreadableImageError: the first unreadable image, with ``on_error="raise"``.
        """
        keep, keep_pids, bad = [], [], []
        for i, s in enumerate(self.samples):
            try:
                read_image(str(s[0]), self.backend)
            except UnreadableImageError:
                if self.on_error == "raise":
                    raise
                bad.append(str(s[0]))
                self._record_skip(str(s[0]))
                continue
            keep.append(s)
            if self.pids is not None:
                keep_pids.append(self.pids[i])
        self.samples = keep
        if self.pids is not None:
            self.pids = keep_pids
        return bad

    def _load(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        path = str(sample[0])
        img = read_image(path, self.backend)
        out = self.transform(img) if self.transform is not None else img
        item: dict[str, Any] = {
            "pid": self.pids[index] if self.pids is not None else int(sample[1]),
            "camid": int(sample[2]),
            "index": index,
            "path": path,
        }
        item["images" if isinstance(out, list) else "image"] = out
        modality = sample[3] if len(sample) > 3 else None
        if modality is not None:
            item["modality"] = modality
        return item

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self.on_error == "raise":
            return self._load(index)
        n = len(self.samples)
        for step in range(n):
            j = (index + step) % n
            try:
                return self._load(j)
            except UnreadableImageError as exc:
                self._record_skip(exc.path)
        raise UnreadableImageError(str(Path(str(self.samples[index][0])).parent),
                                   f"none of the {n} images of the dataset is readable")
