"""The base class every registered backbone derives from."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from torch import Tensor, nn

if TYPE_CHECKING:
    from reid_models.model import ReidModel


class Backbone(nn.Module):
    """A feature-map extractor: ``forward(x, **kwargs) -> Tensor[B, feature_dim, h, w]``.

    Subclasses set the class attributes below and build their layers in ``__init__`` from
    keyword options (``create_model`` passes the options the constructor accepts; any other
    option is an error naming it). Registered through the ``reid_register_backbones`` hook.

    Class attributes:
        name: the unique ``arch`` name users type (e.g. ``"resnet50_ibn_a"``).
        imagenet_files: candidate file names of the ImageNet weights in the torch hub
            checkpoint directory (the first is the one named in "not found" errors).
        ignored_keys: regular expressions of checkpoint keys that this backbone deliberately
            does not use (e.g. the ImageNet ``fc.*``); they are reported as *ignored*.
        forward_kwargs: keyword arguments a plain forward needs (e.g. the modality of the
            two-stream network); the contract test passes them.
        hub_name: a ``timm`` model name whose Hugging Face cache entry holds the weights.

    Instance attribute ``feature_dim`` is the channel count of the returned map.
    """

    name: ClassVar[str] = ""
    imagenet_files: ClassVar[tuple[str, ...]] = ()
    ignored_keys: ClassVar[tuple[str, ...]] = (r"^fc\.",)
    forward_kwargs: ClassVar[dict[str, Any]] = {}
    hub_name: ClassVar[str] = ""
    feature_dim: int

    @classmethod
    def model_class(cls) -> type[ReidModel]:
        """The model wrapper ``create_model`` builds around this backbone."""
        from reid_models.model import ReidModel

        return ReidModel

    def is_ignored(self, key: str) -> bool:
        return any(re.search(p, key) for p in self.ignored_keys)

    def convert_state_dict(self, state: dict[str, Tensor]) -> dict[str, Tensor]:
        """Map a foreign backbone-level state dict to this module's key names (default: as is).

        Keys the result maps to ``"head.<key>"`` are loaded into the model's head.
        """
        return state

    def imagenet_state_dict(self) -> dict[str, Tensor]:
        """The ImageNet weights from the local cache; never downloads (``reid_models.weights``)."""
        from reid_models.weights import find_imagenet_state_dict

        return find_imagenet_state_dict(self)


def set_last_stride(layer4: nn.Module, stride: int) -> None:
    """Set the stride of the first block of a ResNet-style ``layer4`` (conv and downsample).

    Bottlenecks carry the stride on ``conv2`` (torchvision v1.5 and IBN-Net), basic blocks on
    ``conv1``.
    """
    block = layer4[0]  # type: ignore[index]
    conv = block.conv2 if hasattr(block, "conv3") else block.conv1
    conv.stride = (stride, stride)
    if block.downsample is not None:
        block.downsample[0].stride = (stride, stride)
