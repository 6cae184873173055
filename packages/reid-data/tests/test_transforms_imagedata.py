from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms as T

from reid_data import (
    IMAGENET_MEAN,
    DecayingAutoAugment,
    ImageDataset,
    MultiView,
    RandomErasing,
    Sample,
    UnreadableImageError,
    build_test_transform,
    build_train_transform,
    read_image,
)
from reid_data.testing import write_jpeg


def test_train_transform_composition_and_flags() -> None:
    t = build_train_transform(64, 32)
    kinds = [type(x).__name__ for x in t.transforms]
    assert kinds == ["Resize", "RandomHorizontalFlip", "Pad", "RandomCrop", "ToTensor",
                     "Normalize", "RandomErasing"]
    assert t.transforms[0].interpolation == T.InterpolationMode.BICUBIC
    assert t.transforms[2].padding == 10
    t2 = build_train_transform(64, 32, random_erasing=0, flip=False, autoaugment=True)
    assert [type(x).__name__ for x in t2.transforms] == [
        "DecayingAutoAugment", "Resize", "Pad", "RandomCrop", "ToTensor", "Normalize"]
    img = Image.new("RGB", (20, 50), (200, 10, 10))
    torch.manual_seed(0)
    out = t(img)
    assert out.shape == (3, 64, 32) and out.dtype == torch.float32
    out2 = t2(img)
    assert out2.shape == (3, 64, 32)
    test = build_test_transform(64, 32)
    assert [type(x).__name__ for x in test.transforms] == ["Resize", "ToTensor", "Normalize"]
    x = test(Image.new("RGB", (20, 50), (124, 116, 104)))  # ~ImageNet mean colour -> ~0
    assert x.abs().max() < 0.05


def test_random_erasing_fills_imagenet_mean() -> None:
    torch.manual_seed(0)
    er = RandomErasing(p=1.0)
    img = torch.full((3, 64, 32), 7.0)
    out = er(img.clone())
    for c in range(3):
        erased = out[c] == IMAGENET_MEAN[c]
        frac = erased.float().mean().item()
        assert 0.0 < frac <= 0.4 + 0.05
    assert torch.equal(RandomErasing(p=0.0)(img.clone()), img)


def test_decaying_autoaugment_counter() -> None:
    aa = DecayingAutoAugment(total_steps=4)
    img = Image.new("RGB", (8, 16))
    for _ in range(4):
        aa(img)
    assert aa.gamma == 1.0
    assert aa(img) is img  # gamma 1: never applied any more


def test_multiview_gives_independent_views(tmp_path: Path) -> None:
    write_jpeg(tmp_path / "a.jpg", 30, (40, 20))
    t = build_train_transform(32, 16)
    ds = ImageDataset([Sample(str(tmp_path / "a.jpg"), 3, 1)], MultiView(t))
    torch.manual_seed(1)
    item = ds[0]
    assert "image" not in item and len(item["images"]) == 2
    v1, v2 = item["images"]
    assert v1.shape == v2.shape == (3, 32, 16) and not torch.equal(v1, v2)
    assert len(MultiView(t, build_test_transform(32, 16)).transforms) == 2


@pytest.mark.parametrize("backend", ["cv2", "pil"])
def test_image_dataset_items_and_loader(tmp_path: Path, backend: str) -> None:
    write_jpeg(tmp_path / "a.jpg", 30)
    write_jpeg(tmp_path / "b.jpg", 220)
    samples = [Sample(str(tmp_path / "a.jpg"), 0, 2, "ir"), Sample(str(tmp_path / "b.jpg"), 1, 0,
                                                                    "rgb")]
    img = read_image(samples[0].path, backend)
    assert img.mode == "RGB" and img.size == (8, 16)
    ds = ImageDataset(samples, build_test_transform(16, 8), backend=backend, pids=[7, 8])
    item = ds[1]
    assert item["pid"] == 8 and item["camid"] == 0 and item["index"] == 1
    assert item["modality"] == "rgb" and item["image"].shape == (3, 16, 8)
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert batch["image"].shape == (2, 3, 16, 8) and batch["modality"] == ["ir", "rgb"]
    plain = ImageDataset([(str(tmp_path / "a.jpg"), 4, 1)], None)[0]
    assert isinstance(plain["image"], Image.Image) and "modality" not in plain


@pytest.mark.parametrize("backend", ["cv2", "pil"])
def test_unreadable_image_raise_or_skip(tmp_path: Path, backend: str) -> None:
    write_jpeg(tmp_path / "good.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"this is not a jpeg")
    samples = [Sample(str(tmp_path / "bad.jpg"), 0, 0), Sample(str(tmp_path / "good.jpg"), 1, 0),
               Sample(str(tmp_path / "missing.jpg"), 2, 0)]
    ds = ImageDataset(samples, build_test_transform(16, 8), backend=backend)
    with pytest.raises(UnreadableImageError, match=r"cannot read image .*bad\.jpg"):
        ds[0]
    with pytest.raises(UnreadableImageError, match=r"missing\.jpg"):
        ds[2]
    skip = ImageDataset(samples, build_test_transform(16, 8), backend=backend, on_error="skip")
    assert skip[0]["index"] == 1 and skip[2]["index"] == 1  # the next readable item
    assert skip.skipped == 2 and sorted(Path(p).name for p in skip.skipped_paths) == [
        "bad.jpg", "missing.jpg"]
    fresh = ImageDataset(samples, None, backend=backend, on_error="skip")
    assert [Path(p).name for p in fresh.verify()] == ["bad.jpg", "missing.jpg"]
    assert len(fresh) == 1 and fresh.skipped == 2
    with pytest.raises(UnreadableImageError):
        ImageDataset(samples, None, backend=backend).verify()
    with pytest.raises(ValueError, match="choices: raise, skip"):
        ImageDataset(samples, None, on_error="ignore")
