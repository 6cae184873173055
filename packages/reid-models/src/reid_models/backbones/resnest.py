"""ResNeSt-50 / ResNeSt-101 from timm (``resnest50d``, ``resnest101e``: the torch.hub ResNeSt
models the VisDA submission used). Last stride stays 2 by default (METHODS §2.1)."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from reid_models.backbones.base import Backbone


class _TimmResNeSt(Backbone):
    timm_name: ClassVar[str] = ""

    def __init__(self, last_stride: int = 2) -> None:
        super().__init__()
        import timm

        if last_stride not in (1, 2):
            raise ValueError(f"{self.name}: last_stride must be 1 or 2, got {last_stride!r}")
        net = timm.create_model(self.timm_name, pretrained=False, num_classes=0, global_pool="")
        if last_stride == 1:
            block = net.layer4[0]
            for attr in ("avd_first", "avd_last"):  # the strided 3x3 average pools
                pool = getattr(block, attr, None)
                if isinstance(pool, nn.AvgPool2d):
                    setattr(block, attr, nn.Identity())
            down = block.downsample
            if down is not None and isinstance(down[0], nn.AvgPool2d):
                down[0] = nn.Identity()  # parameter-free: key names are unchanged
        self.last_stride = last_stride
        self.conv1, self.bn1, self.act1, self.maxpool = net.conv1, net.bn1, net.act1, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1, net.layer2, net.layer3, net.layer4,
        )
        self.feature_dim = net.num_features

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.act1(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)


class ResNeSt50(_TimmResNeSt):
    """ResNeSt-50 (timm ``resnest50d``), 2048-d."""

    name = "resnest50"
    timm_name = "resnest50d"
    hub_name = "timm/resnest50d.in1k"


class ResNeSt101(_TimmResNeSt):
    """ResNeSt-101 (timm ``resnest101e``), 2048-d."""

    name = "resnest101"
    timm_name = "resnest101e"
    hub_name = "timm/resnest101e.in1k"
