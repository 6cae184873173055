"""DenseNet-169-IBN-a (1664-d), after the official IBN-Net structure and key names.

``features.conv0/norm0/...``, ``features.denseblockN.denselayerM.norm1.BN/IN`` (IBN with 40 %
instance norm on the *last* channels, every third layer of blocks 1-3), ``features.norm5``.
The map is passed through a final ReLU like the original classifier path.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from reid_models.backbones.base import Backbone
from reid_models.backbones.ibn import IBN


class _DenseLayer(nn.Sequential):
    def __init__(self, in_features: int, growth_rate: int, bn_size: int, ibn: bool) -> None:
        super().__init__()
        norm1: nn.Module = (
            IBN(in_features, 0.4, in_first=False) if ibn else nn.BatchNorm2d(in_features)
        )
        self.add_module("norm1", norm1)
        self.add_module("relu1", nn.ReLU(inplace=True))
        self.add_module("conv1", nn.Conv2d(in_features, bn_size * growth_rate, 1, bias=False))
        self.add_module("norm2", nn.BatchNorm2d(bn_size * growth_rate))
        self.add_module("relu2", nn.ReLU(inplace=True))
        self.add_module(
            "conv2", nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, super().forward(x)], 1)


class _Transition(nn.Sequential):
    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(in_features))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(in_features, out_features, 1, bias=False))
        self.add_module("pool", nn.AvgPool2d(kernel_size=2, stride=2))


class DenseNet169IBNa(Backbone):
    """DenseNet-169-IBN-a (growth 32, blocks 6/12/32/32), 1664-d features (MMT+ submission)."""

    name = "densenet169_ibn_a"
    imagenet_files = ("densenet169_ibn_a-9f32c161.pth",)
    ignored_keys = (r"^classifier\.",)

    def __init__(
        self, growth_rate: int = 32, block_config: tuple[int, ...] = (6, 12, 32, 32),
        num_init_features: int = 64, bn_size: int = 4,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, 7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        n = num_init_features
        for i, num_layers in enumerate(block_config):
            block = nn.Sequential()
            for j in range(num_layers):
                ibn = i < 3 and j % 3 == 0
                block.add_module(f"denselayer{j + 1}", _DenseLayer(n + j * growth_rate,
                                                                   growth_rate, bn_size, ibn))
            self.features.add_module(f"denseblock{i + 1}", block)
            n += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(n, n // 2))
                n //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(n))
        self.feature_dim = n
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.features(x))
