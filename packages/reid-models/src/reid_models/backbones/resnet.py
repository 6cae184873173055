"""torchvision ResNet-18/34/50/101 backbones and the PPLR part backbone (``resnet50part``).

Defaults follow METHODS §0.4: last stride 1 (a 256x128 input gives a 16x8 map). MMT's plain
ResNet wrapper drops the stem ReLU (conv1 -> bn1 -> maxpool); ``stem_relu=False`` reproduces it.
Key names are torchvision's minus ``fc``/``avgpool``, so torchvision ImageNet files load as is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from torch import Tensor

from reid_models.backbones.base import Backbone, set_last_stride

if TYPE_CHECKING:
    from reid_models.model import ReidModel


class _TorchvisionResNet(Backbone):
    depth: ClassVar[int] = 50

    def __init__(self, last_stride: int = 1, stem_relu: bool = True) -> None:
        super().__init__()
        import torchvision

        if last_stride not in (1, 2):
            raise ValueError(f"{self.name}: last_stride must be 1 or 2, got {last_stride!r}")
        net = getattr(torchvision.models, f"resnet{self.depth}")(weights=None)
        set_last_stride(net.layer4, last_stride)
        self.last_stride = last_stride
        self.stem_relu = stem_relu
        self.conv1 = net.conv1
        self.bn1 = net.bn1
        self.relu = net.relu
        self.maxpool = net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1, net.layer2, net.layer3, net.layer4,
        )
        self.feature_dim = net.fc.in_features

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn1(self.conv1(x))
        if self.stem_relu:
            x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)


class ResNet18(_TorchvisionResNet):
    """ResNet-18 (torchvision), 512-d features; small enough for CPU tests at 64x32."""

    name = "resnet18"
    depth = 18
    imagenet_files = ("resnet18-f37072fd.pth", "resnet18-5c106cde.pth")


class ResNet34(_TorchvisionResNet):
    """ResNet-34 (torchvision), 512-d features."""

    name = "resnet34"
    depth = 34
    imagenet_files = ("resnet34-b627a593.pth", "resnet34-333f7ec4.pth")


class ResNet50(_TorchvisionResNet):
    """ResNet-50 (torchvision), 2048-d features."""

    name = "resnet50"
    depth = 50
    imagenet_files = ("resnet50-0676ba61.pth", "resnet50-19c8e357.pth")


class ResNet101(_TorchvisionResNet):
    """ResNet-101 (torchvision), 2048-d features."""

    name = "resnet101"
    depth = 101
    imagenet_files = ("resnet101-63fe2227.pth", "resnet101-5d3b4d8f.pth")


class ResNet50Part(ResNet50):
    """PPLR's ``resnet50part`` (METHODS §6.1): ResNet-50 with ReLU, last stride 1.

    ``create_model`` wraps it in :class:`reid_models.model.PartReidModel` (global branch plus
    ``num_parts`` horizontal stripes, each with its own BNNeck and classifier).
    """

    name = "resnet50part"

    @classmethod
    def model_class(cls) -> type[ReidModel]:
        from reid_models.model import PartReidModel

        return PartReidModel


class ResNet18Part(ResNet18):
    """The part model on ResNet-18 (512-d), for fast tests and demos."""

    name = "resnet18part"

    @classmethod
    def model_class(cls) -> type[ReidModel]:
        from reid_models.model import PartReidModel

        return PartReidModel


__all__ = ["ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet50Part", "ResNet18Part"]
