"""Built-in registrations of reid-models, through the same hooks as third-party plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reid_plugin import hookimpl

if TYPE_CHECKING:
    from torch import nn

    from reid_models.backbones.base import Backbone


@hookimpl
def reid_register_backbones() -> list[type[Backbone]]:
    from reid_models.backbones.densenet_ibn import DenseNet169IBNa
    from reid_models.backbones.ibn import ResNet50IBNa, ResNet50IBNb, ResNet101IBNa, ResNeXt101IBNa
    from reid_models.backbones.mini import ResNetMini, ResNetMiniPart
    from reid_models.backbones.resnest import ResNeSt50, ResNeSt101
    from reid_models.backbones.resnet import (
        ResNet18,
        ResNet18Part,
        ResNet34,
        ResNet50,
        ResNet50Part,
        ResNet101,
    )
    from reid_models.backbones.two_stream import TwoStreamResNet50

    return [
        ResNet18, ResNet34, ResNet50, ResNet101, ResNet50Part, ResNet18Part,
        ResNet50IBNa, ResNet50IBNb, ResNet101IBNa, ResNeXt101IBNa, DenseNet169IBNa,
        ResNeSt50, ResNeSt101, TwoStreamResNet50, ResNetMini,
        ResNetMiniPart,
    ]


@hookimpl
def reid_register_losses() -> list[type[nn.Module]]:
    from reid_models.losses import (
        CameraProxyContrastiveLoss,
        CrossEntropyLabelSmooth,
        MoCoLoss,
        PermutationLoss,
        SoftEntropy,
        SoftTripletLoss,
        SoftTripletTeacherLoss,
        TripletLoss,
        WeightedRegularizedTriplet,
    )

    return [
        CrossEntropyLabelSmooth, SoftEntropy, SoftTripletLoss, SoftTripletTeacherLoss,
        TripletLoss, WeightedRegularizedTriplet, MoCoLoss, CameraProxyContrastiveLoss,
        PermutationLoss,
    ]
