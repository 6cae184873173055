"""Image pipelines of METHODS §0.2: train/test transforms, RandomErasing, AutoAugment, two views.

Train: [AutoAugment ImageNet policy, fill 128] -> Resize(H, W, bicubic) -> RandomHorizontalFlip(0.5)
-> Pad(10) -> RandomCrop(H, W) -> ToTensor -> Normalize(ImageNet) -> [RandomErasing(p 0.5,
area 0.02-0.4, aspect 0.3-1/0.3, fill = ImageNet mean written into the normalised tensor)].
Test: Resize(H, W, bicubic) -> ToTensor -> Normalize.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torchvision import transforms as T

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DecayingAutoAugment",
    "MultiView",
    "RandomErasing",
    "build_test_transform",
    "build_train_transform",
]


class RandomErasing:
    """Random erasing as in the open-reid/MMT code (not torchvision's variant).

    With probability ``p``: up to 100 attempts to draw an area fraction ``U(sl, sh)`` and an aspect
    ratio ``U(r1, 1/r1)`` (uniform, not log-uniform); the first rectangle that fits is filled, per
    channel, with ``mean`` (ImageNet mean values written into the *normalised* tensor).
    Randomness comes from torch's generator (seeded per DataLoader worker).
    """

    def __init__(self, p: float = 0.5, sl: float = 0.02, sh: float = 0.4, r1: float = 0.3,
                 mean: Sequence[float] = IMAGENET_MEAN) -> None:
        self.p, self.sl, self.sh, self.r1, self.mean = p, sl, sh, r1, tuple(mean)

    @staticmethod
    def _uniform(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand(()))

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        if float(torch.rand(())) >= self.p:
            return img
        _, height, width = img.shape
        area = height * width
        for _ in range(100):
            target = self._uniform(self.sl, self.sh) * area
            aspect = self._uniform(self.r1, 1 / self.r1)
            h = round(math.sqrt(target * aspect))
            w = round(math.sqrt(target / aspect))
            if w < width and h < height:
                x1 = int(torch.randint(0, height - h + 1, ()))
                y1 = int(torch.randint(0, width - w + 1, ()))
                if img.shape[0] == 3:
                    for c in range(3):
                        img[c, x1:x1 + h, y1:y1 + w] = self.mean[c]
                else:
                    img[0, x1:x1 + h, y1:y1 + w] = self.mean[0]
                return img
        return img

    def __repr__(self) -> str:
        return f"RandomErasing(p={self.p}, sl={self.sl}, sh={self.sh}, r1={self.r1})"


class DecayingAutoAugment:
    """torchvision's AutoAugment ImageNet policy (fill 128), applied with probability ``1 - g``.

    ``g`` starts at 0 and grows by ``1/total_steps`` per call (the MMT+ "decay"); with
    ``total_steps=None`` the policy is always applied, which is what the official runs effectively
    do because DataLoader workers are re-created each epoch with a fresh copy of the counter
    (METHODS §0.2 quirk). The counter lives in each worker's copy, as in the original.
    """

    def __init__(self, total_steps: int | None = None, fill: int = 128) -> None:
        self.policy = T.AutoAugment(T.AutoAugmentPolicy.IMAGENET, fill=[fill, fill, fill])
        self.total_steps = total_steps
        self.gamma = 0.0

    def __call__(self, img: Any) -> Any:
        apply = self.total_steps is None or float(torch.rand(())) >= self.gamma
        if self.total_steps is not None:
            self.gamma = min(1.0, self.gamma + 1.0 / self.total_steps)
        return self.policy(img) if apply else img

    def __repr__(self) -> str:
        return f"DecayingAutoAugment(total_steps={self.total_steps})"


def build_train_transform(
    height: int = 256,
    width: int = 128,
    *,
    flip: bool = True,
    pad: int = 10,
    random_erasing: float = 0.5,
    autoaugment: bool = False,
    autoaugment_steps: int | None = None,
    normalize: bool = True,
) -> T.Compose:
    """The training pipeline; switch parts off with ``flip=False``, ``pad=0`` (no pad/crop),
    ``random_erasing=0`` (MMT source pre-training, MMT+ stage II), ``normalize=False``;
    ``autoaugment=True`` adds the ImageNet policy before the resize (MMT+ stage II)."""
    steps: list[Callable[[Any], Any]] = []
    if autoaugment:
        steps.append(DecayingAutoAugment(autoaugment_steps))
    steps.append(T.Resize((height, width), interpolation=T.InterpolationMode.BICUBIC))
    if flip:
        steps.append(T.RandomHorizontalFlip(0.5))
    if pad:
        steps += [T.Pad(pad), T.RandomCrop((height, width))]
    steps.append(T.ToTensor())
    if normalize:
        steps.append(T.Normalize(IMAGENET_MEAN, IMAGENET_STD))
    if random_erasing > 0:
        steps.append(RandomErasing(p=random_erasing, mean=IMAGENET_MEAN))
    return T.Compose(steps)


def build_test_transform(height: int = 256, width: int = 128, *,
                         normalize: bool = True) -> T.Compose:
    """Resize(H, W, bicubic) -> ToTensor -> Normalize."""
    steps: list[Callable[[Any], Any]] = [
        T.Resize((height, width), interpolation=T.InterpolationMode.BICUBIC), T.ToTensor()]
    if normalize:
        steps.append(T.Normalize(IMAGENET_MEAN, IMAGENET_STD))
    return T.Compose(steps)


class MultiView:
    """Apply independently drawn transforms to one image: ``[t1(img), t2(img), ...]``.

    ``MultiView(t)`` gives two views of the same transform (MMT "mutual" loading: view 1 for net 1
    and its EMA, view 2 for net 2 and its EMA); pass several transforms for different pipelines.
    :class:`~reid_data.ImageDataset` returns the views under ``"images"``.
    """

    def __init__(self, *transforms: Callable[[Any], Any], views: int = 2) -> None:
        if not transforms:
            raise ValueError("MultiView needs at least one transform")
        self.transforms = list(transforms) if len(transforms) > 1 else [transforms[0]] * views

    def __call__(self, img: Any) -> list[Any]:
        return [t(img) for t in self.transforms]

    def __repr__(self) -> str:
        return f"MultiView({self.transforms!r})"
