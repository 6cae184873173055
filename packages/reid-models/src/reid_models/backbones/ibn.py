"""IBN-Net layers and backbones: ResNet-50/101-IBN-a, ResNet-50-IBN-b, ResNeXt-101-IBN-a.

Written after the structure of the official IBN-Net (Pan et al., ECCV 2018) so that its weight
files load with their own key names: ``layerX.Y.bn1.IN.*`` / ``layerX.Y.bn1.BN.*`` for IBN-a,
``bn1`` an InstanceNorm2d in the stem and ``layerX.Y.IN.*`` after the residual sum for IBN-b,
``maxpool1`` in the ResNeXt stem. Default last stride 1 (METHODS §0.4, §2.1).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor, nn

from reid_models.backbones.base import Backbone, set_last_stride


class IBN(nn.Module):
    """Instance-Batch Normalisation (IBN-a): InstanceNorm on the first ``ratio`` of the channels,
    BatchNorm on the rest.

    ``in_first=False`` puts the BatchNorm part first (the DenseNet-IBN variant, where
    ``ratio`` is the IN share of the *last* channels).
    """

    def __init__(self, planes: int, ratio: float = 0.5, in_first: bool = True) -> None:
        super().__init__()
        self.in_first = in_first
        if in_first:
            self.split_at = int(planes * ratio)
            self.IN = nn.InstanceNorm2d(self.split_at, affine=True)
            self.BN = nn.BatchNorm2d(planes - self.split_at)
        else:
            self.split_at = int(planes * (1 - ratio))
            self.BN = nn.BatchNorm2d(self.split_at)
            self.IN = nn.InstanceNorm2d(planes - self.split_at, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        a, b = x[:, : self.split_at].contiguous(), x[:, self.split_at :].contiguous()
        if self.in_first:
            return torch.cat((self.IN(a), self.BN(b)), 1)
        return torch.cat((self.BN(a), self.IN(b)), 1)


class BottleneckIBN(nn.Module):
    """ResNet bottleneck with IBN-a (``bn1``) or IBN-b (``IN`` after the sum)."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, ibn: str | None = None, stride: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1: nn.Module = IBN(planes) if ibn == "a" else nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.IN = nn.InstanceNorm2d(planes * 4, affine=True) if ibn == "b" else None
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = self.downsample(x) if self.downsample is not None else x
        out = out + identity
        if self.IN is not None:
            out = self.IN(out)
        return self.relu(out)


class ResNeXtBottleneckIBN(nn.Module):
    """ResNeXt bottleneck (type C, grouped 3x3) with IBN-a on ``bn1``."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, base_width: int, cardinality: int, stride: int = 1,
        downsample: nn.Module | None = None, ibn: str | None = None,
    ) -> None:
        super().__init__()
        width = int(math.floor(planes * (base_width / 64))) * cardinality
        self.conv1 = nn.Conv2d(inplanes, width, kernel_size=1, bias=False)
        self.bn1: nn.Module = IBN(width) if ibn == "a" else nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(
            width, width, 3, stride=stride, padding=1, groups=cardinality, bias=False
        )
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return self.relu(out + identity)


def _init_like_ibn(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _downsample(inplanes: int, outplanes: int, stride: int) -> nn.Module | None:
    if stride == 1 and inplanes == outplanes:
        return None
    return nn.Sequential(
        nn.Conv2d(inplanes, outplanes, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(outplanes),
    )


class _ResNetIBN(Backbone):
    layers: ClassVar[tuple[int, int, int, int]] = (3, 4, 6, 3)
    ibn_cfg: ClassVar[tuple[str | None, ...]] = ("a", "a", "a", None)

    def __init__(self, last_stride: int = 1) -> None:
        super().__init__()
        if last_stride not in (1, 2):
            raise ValueError(f"{self.name}: last_stride must be 1 or 2, got {last_stride!r}")
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1: nn.Module = (
            nn.InstanceNorm2d(64, affine=True) if self.ibn_cfg[0] == "b" else nn.BatchNorm2d(64)
        )
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, self.layers[0], 1, self.ibn_cfg[0])
        self.layer2 = self._make_layer(128, self.layers[1], 2, self.ibn_cfg[1])
        self.layer3 = self._make_layer(256, self.layers[2], 2, self.ibn_cfg[2])
        self.layer4 = self._make_layer(512, self.layers[3], 2, self.ibn_cfg[3])
        set_last_stride(self.layer4, last_stride)
        self.feature_dim = 2048
        _init_like_ibn(self)

    def _make_layer(self, planes: int, blocks: int, stride: int, ibn: str | None) -> nn.Sequential:
        down = _downsample(self.inplanes, planes * 4, stride)
        # IBN-b: no IN inside the first block's bn1; IN after the sum of the last block only.
        layers = [BottleneckIBN(self.inplanes, planes, None if ibn == "b" else ibn, stride, down)]
        self.inplanes = planes * 4
        for i in range(1, blocks):
            block_ibn = None if (ibn == "b" and i < blocks - 1) else ibn
            layers.append(BottleneckIBN(self.inplanes, planes, block_ibn))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)


class ResNet50IBNa(_ResNetIBN):
    """ResNet-50-IBN-a, 2048-d (MMT, MMT+ ablations, SDA encoders)."""

    name = "resnet50_ibn_a"
    imagenet_files = ("resnet50_ibn_a-d9d0bb7b.pth", "resnet50_ibn_a.pth.tar")


class ResNet101IBNa(_ResNetIBN):
    """ResNet-101-IBN-a, 2048-d."""

    name = "resnet101_ibn_a"
    layers = (3, 4, 23, 3)
    imagenet_files = ("resnet101_ibn_a-59ea0ac6.pth", "resnet101_ibn_a.pth.tar")


class ResNet50IBNb(_ResNetIBN):
    """ResNet-50-IBN-b, 2048-d (IN in the stem and after layer1/layer2)."""

    name = "resnet50_ibn_b"
    ibn_cfg = ("b", "b", None, None)
    imagenet_files = ("resnet50_ibn_b-9ca61e85.pth", "resnet50_ibn_b.pth.tar")


class ResNeXt101IBNa(Backbone):
    """ResNeXt-101 (32x4d)-IBN-a, 2048-d; last stride 1 as in the VisDA submission."""

    name = "resnext101_ibn_a"
    imagenet_files = ("resnext101_ibn_a-6ace051d.pth",)

    def __init__(self, last_stride: int = 1, base_width: int = 4, cardinality: int = 32) -> None:
        super().__init__()
        if last_stride not in (1, 2):
            raise ValueError(f"{self.name}: last_stride must be 1 or 2, got {last_stride!r}")
        self.base_width, self.cardinality = base_width, cardinality
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, 3, 1, "a")
        self.layer2 = self._make_layer(128, 4, 2, "a")
        self.layer3 = self._make_layer(256, 23, 2, "a")
        self.layer4 = self._make_layer(512, 3, 2, None)
        set_last_stride(self.layer4, last_stride)
        self.feature_dim = 2048
        _init_like_ibn(self)

    def _make_layer(self, planes: int, blocks: int, stride: int, ibn: str | None) -> nn.Sequential:
        down = _downsample(self.inplanes, planes * 4, stride)
        bw, card = self.base_width, self.cardinality
        layers = [ResNeXtBottleneckIBN(self.inplanes, planes, bw, card, stride, down, ibn)]
        self.inplanes = planes * 4
        for _ in range(1, blocks):
            layers.append(ResNeXtBottleneckIBN(self.inplanes, planes, bw, card, 1, None, ibn))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool1(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)
