"""The two-stream RGB-IR ResNet-50 of AGW / DDAG / MMGL (METHODS §7.2, §7.4, §7.5).

Modality-specific stems (conv1/bn1/relu/maxpool) and shared layer1-4, last stride 1; optional
non-local blocks after the last 2 blocks of layer2 and the last 3 of layer3. Module names match
AGW's ``visible_module.visible.*``, ``thermal_module.thermal.*``, ``base_resnet.base.*`` and
``NL_2.*``/``NL_3.*`` so AGW/DDAG/MMGL checkpoints load. AGW keeps whole ResNet-50s inside each
wrapper, of which it uses only the parts above; the unused parts (``visible_module.visible.layer*``,
``base_resnet.base.conv1`` ...) and MMGL's pretext heads (``fc1``, ``fc2``, ``local_conv_list``)
are reported as *ignored* when such a checkpoint is loaded.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from reid_models.backbones.base import Backbone, set_last_stride

MODALITIES = ("visible", "thermal", "both")


class NonLocal(nn.Module):
    """AGW's non-local block: dot-product affinity divided by N, zero-initialised output BN.

    Quirk kept for parity (METHODS §12.10): ``inter_channels = reduc_ratio // reduc_ratio``,
    i.e. 1 whatever the input width.
    """

    def __init__(self, in_channels: int, reduc_ratio: int = 2) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.inter_channels = reduc_ratio // reduc_ratio
        self.g = nn.Sequential(nn.Conv2d(in_channels, self.inter_channels, 1))
        self.W = nn.Sequential(
            nn.Conv2d(self.inter_channels, in_channels, 1), nn.BatchNorm2d(in_channels)
        )
        nn.init.zeros_(self.W[1].weight)
        nn.init.zeros_(self.W[1].bias)
        self.theta = nn.Conv2d(in_channels, self.inter_channels, 1)
        self.phi = nn.Conv2d(in_channels, self.inter_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b = x.size(0)
        g_x = self.g(x).view(b, self.inter_channels, -1).permute(0, 2, 1)
        theta_x = self.theta(x).view(b, self.inter_channels, -1).permute(0, 2, 1)
        phi_x = self.phi(x).view(b, self.inter_channels, -1)
        f = torch.matmul(theta_x, phi_x)
        y = torch.matmul(f / f.size(-1), g_x)
        y = y.permute(0, 2, 1).contiguous().view(b, self.inter_channels, *x.shape[2:])
        return self.W(y) + x


class _Stem(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))


class _VisibleModule(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.visible = _Stem()


class _ThermalModule(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.thermal = _Stem()


class _BaseLayers(nn.Module):
    def __init__(self, last_stride: int) -> None:
        super().__init__()
        import torchvision

        net = torchvision.models.resnet50(weights=None)
        set_last_stride(net.layer4, last_stride)
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1, net.layer2, net.layer3, net.layer4,
        )


class _BaseResNet(nn.Module):
    def __init__(self, last_stride: int) -> None:
        super().__init__()
        self.base = _BaseLayers(last_stride)


class TwoStreamResNet50(Backbone):
    """AGW's ``embed_net`` trunk: ``forward(x, modality)`` with modality ``"visible"``,
    ``"thermal"`` or ``"both"``.

    With ``"both"``, ``x`` is either a pair ``(x_visible, x_thermal)`` or one tensor whose first
    half is visible and second half thermal (AGW's ``modal=0``: the two are concatenated and go
    through the shared layers together). The modality is required: a silent default would push
    IR images through the RGB stem.
    """

    name = "resnet50_two_stream"
    imagenet_files = ("resnet50-0676ba61.pth", "resnet50-19c8e357.pth")
    forward_kwargs: ClassVar[dict[str, Any]] = {"modality": "both"}
    ignored_keys = (
        r"^fc\.",
        r"^visible_module\.visible\.(layer\d|fc|avgpool)",
        r"^thermal_module\.thermal\.(layer\d|fc|avgpool)",
        r"^base_resnet\.base\.(conv1|bn1|fc|avgpool)",
        r"^(fc1|fc2|local_conv_list)\.",
    )

    def __init__(self, non_local: bool = False, last_stride: int = 1) -> None:
        super().__init__()
        self.visible_module = _VisibleModule()
        self.thermal_module = _ThermalModule()
        self.base_resnet = _BaseResNet(last_stride)
        self.non_local = non_local
        if non_local:
            # AGW non_layers = [0, 2, 3, 0]: after the last 2 blocks of layer2, last 3 of layer3.
            self.NL_2 = nn.ModuleList([NonLocal(512) for _ in range(2)])
            self.NL_3 = nn.ModuleList([NonLocal(1024) for _ in range(3)])
        self.feature_dim = 2048

    def stem(self, x: Tensor | tuple[Tensor, Tensor], modality: str) -> Tensor:
        if modality == "visible":
            return self.visible_module.visible(x)
        if modality == "thermal":
            return self.thermal_module.thermal(x)
        if modality != "both":
            raise ValueError(f"{self.name}: unknown modality {modality!r}; choices: {MODALITIES}")
        if isinstance(x, (tuple, list)):
            xv, xt = x
        else:
            if x.size(0) % 2:
                raise ValueError(f"{self.name}: modality 'both' needs an even batch "
                                 f"[visible; thermal], got {x.size(0)}")
            xv, xt = x.chunk(2, 0)
        return torch.cat((self.visible_module.visible(xv), self.thermal_module.thermal(xt)), 0)

    def forward(self, x: Tensor, modality: str | None = None) -> Tensor:  # type: ignore[override]
        if modality is None:
            raise ValueError(f"{self.name}: pass modality=, one of {MODALITIES}")
        x = self.stem(x, modality)
        base = self.base_resnet.base
        x = base.layer1(x)
        if not self.non_local:
            return base.layer4(base.layer3(base.layer2(x)))
        for layer, nls in ((base.layer2, self.NL_2), (base.layer3, self.NL_3)):
            first_nl = len(layer) - len(nls)
            for i, block in enumerate(layer):
                x = block(x)
                if i >= first_nl:
                    x = nls[i - first_nl](x)
        return base.layer4(x)

    def convert_state_dict(self, state: dict[str, Tensor]) -> dict[str, Tensor]:
        """Accept AGW checkpoints as they are, and plain (torchvision) ResNet-50 state dicts:
        the stem goes to both modality stems, layer1-4 to the shared trunk. AGW's head keys
        ``bottleneck.*``/``classifier.*`` go to the model head (``feat_bn``/``classifier``)."""
        out: dict[str, Tensor] = {}
        plain = "conv1.weight" in state and not any(
            k.startswith(("visible_module.", "base_resnet.")) for k in state
        )
        for k, v in state.items():
            if plain and k.startswith(("conv1.", "bn1.")):
                out[f"visible_module.visible.{k}"] = v
                out[f"thermal_module.thermal.{k}"] = v.clone()
            elif plain and k.startswith("layer"):
                out[f"base_resnet.base.{k}"] = v
            elif k.startswith("bottleneck."):
                out["head.feat_bn." + k[len("bottleneck."):]] = v
            elif k.startswith("classifier."):
                out["head." + k] = v
            else:
                out[k] = v
        return out
