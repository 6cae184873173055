"""``resnet_mini``: a narrow 4-stage ResNet for CPU work at small image sizes.

The demo, the tests and laptop experiments train from random initialisation (no weights can be
downloaded) on images of about 64x32. A torchvision ResNet-18 there spends most of its time on
11 M parameters that tiny feature maps cannot use; this network keeps the ResNet shape (a stem,
four stages of basic blocks, the last stride configurable like every ResNet here) at a quarter of
the width: stage widths ``(32, 64, 128, 256)`` by default, one basic block per stage, a 3x3
stride-2 stem without max-pooling. It has no ImageNet weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from torch import Tensor, nn

from reid_models.backbones.base import Backbone, set_last_stride

if TYPE_CHECKING:
    from reid_models.model import ReidModel


class ResNetMini(Backbone):
    """Narrow ResNet (basic blocks), ``widths[-1]``-d features; for CPU runs from scratch."""

    name = "resnet_mini"
    ignored_keys = ()

    def __init__(self, last_stride: int = 1, widths: Sequence[int] = (32, 64, 128, 256),
                 blocks: Sequence[int] = (1, 1, 1, 1)) -> None:
        super().__init__()
        from torchvision.models.resnet import BasicBlock

        if last_stride not in (1, 2):
            raise ValueError(f"{self.name}: last_stride must be 1 or 2, got {last_stride!r}")
        if len(widths) != 4 or len(blocks) != 4 or min(blocks) < 1 or min(widths) < 1:
            raise ValueError(f"{self.name}: widths and blocks need 4 positive entries each, got "
                             f"widths={tuple(widths)}, blocks={tuple(blocks)}")
        w0 = int(widths[0])
        self.conv1 = nn.Conv2d(3, w0, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w0)
        self.relu = nn.ReLU(inplace=True)
        cin = w0
        stages = []
        for i, (w, n) in enumerate(zip(widths, blocks)):
            stride = 1 if i == 0 else 2
            layers = []
            for j in range(int(n)):
                down = None
                if j == 0 and (stride != 1 or cin != w):
                    down = nn.Sequential(nn.Conv2d(cin, w, 1, stride, bias=False), nn.BatchNorm2d(w))
                layers.append(BasicBlock(cin, int(w), stride if j == 0 else 1, down))
                cin = int(w)
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        set_last_stride(self.layer4, last_stride)
        self.last_stride = last_stride
        self.feature_dim = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)


class ResNetMiniPart(ResNetMini):
    """The PPLR part model (global branch plus horizontal stripes) on ``resnet_mini``."""

    name = "resnet_minipart"

    @classmethod
    def model_class(cls) -> type[ReidModel]:
        from reid_models.model import PartReidModel

        return PartReidModel
