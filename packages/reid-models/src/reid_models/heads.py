"""Re-ID heads: pooling (average, max, GeM), optional embedding, BNNeck, dropout, classifier
(bias-free linear, ArcFace or CosFace). METHODS §0.4 and §2.4."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

POOLINGS = ("avg", "max", "gem", "gem_fixed")
CLASSIFIERS = ("linear", "arc", "cos")
#: Default (scale, margin) per margin head: the VisDA script default for ArcFace, the code
#: default of ``MarginCosineProduct`` for CosFace.
MARGIN_DEFAULTS = {"arc": (64.0, 0.35), "cos": (30.0, 0.4)}


class GeM(nn.Module):
    """Generalised-mean pooling ``(mean x^p)^(1/p)`` over the spatial dimensions.

    ``clamp=True`` (VisDA/MMT+): ``x.clamp(min=eps)`` first, eps 1e-6, ``p`` learnable by default
    (initialised to 3). ``clamp=False`` (AGW): ``(mean x^p + eps)^(1/p)`` with eps 1e-12 and a
    fixed ``p``.
    """

    def __init__(
        self, p: float = 3.0, learnable: bool = True, eps: float = 1e-6, clamp: bool = True
    ) -> None:
        super().__init__()
        self.learnable = learnable
        self.eps = eps
        self.clamp = clamp
        if learnable:
            self.p = nn.Parameter(torch.ones(1) * p)
        else:
            self.register_buffer("p", torch.tensor([float(p)]), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        p = self.p
        if self.clamp:
            return x.clamp(min=self.eps).pow(p).mean(dim=(-2, -1)).pow(1.0 / p)
        return (x.flatten(2).pow(p).mean(-1) + self.eps).pow(1.0 / p)

    def extra_repr(self) -> str:
        return f"p={float(self.p.detach()[0]):.3f}, learnable={self.learnable}, clamp={self.clamp}"


def make_pooling(
    pooling: str, gem_p: float = 3.0, gem_learnable: bool | None = None
) -> nn.Module:
    """``avg``, ``max``, ``gem`` (clamped, learnable p by default) or ``gem_fixed`` (AGW)."""
    if pooling == "avg":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    if pooling == "max":
        return nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(1))
    if pooling == "gem":
        return GeM(gem_p, learnable=True if gem_learnable is None else gem_learnable)
    if pooling == "gem_fixed":
        return GeM(gem_p, learnable=bool(gem_learnable), eps=1e-12, clamp=False)
    raise ValueError(f"Unknown pooling {pooling!r}; choices: {', '.join(POOLINGS)}")


class MarginHead(nn.Module):
    """Cosine classifier with an additive margin on the target logit (METHODS §2.4).

    Features and class weights are L2-normalised, ``cos = w_hat . f_hat``; non-target logits are
    ``s * cos``. ArcFace (``kind="arc"``, easy margin off): target ``s * cos(theta + m)`` computed
    as ``cos*cos(m) - sin*sin(m)`` when ``cos > cos(pi - m)``, else ``s * (cos - m*sin(pi - m))``.
    CosFace (``kind="cos"``): ``s * (cos - m)`` on the target. Without labels (or for label
    ``< 0``) no margin is applied. Rows are Xavier-initialised.
    """

    def __init__(self, in_features: int, out_features: int, kind: str = "arc",
                 scale: float | None = None, margin: float | None = None) -> None:
        super().__init__()
        if kind not in MARGIN_DEFAULTS:
            raise ValueError(f"Unknown margin head {kind!r}; choices: arc, cos")
        s_default, m_default = MARGIN_DEFAULTS[kind]
        self.kind = kind
        self.in_features, self.out_features = in_features, out_features
        self.s = float(s_default if scale is None else scale)
        self.m = float(m_default if margin is None else margin)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        cosine = F.linear(F.normalize(x), F.normalize(self.weight))
        if labels is None:
            return self.s * cosine
        valid = labels >= 0
        one_hot = torch.zeros_like(cosine)
        one_hot[valid] = F.one_hot(labels[valid].long(), self.out_features).to(cosine.dtype)
        if self.kind == "cos":
            return self.s * (cosine - self.m * one_hot)
        sine = (1.0 - cosine.pow(2)).clamp(0, 1).sqrt()
        phi = cosine * math.cos(self.m) - sine * math.sin(self.m)
        th, mm = math.cos(math.pi - self.m), math.sin(math.pi - self.m) * self.m
        phi = torch.where(cosine > th, phi, cosine - mm)
        return self.s * (one_hot * phi + (1.0 - one_hot) * cosine)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, kind={self.kind}, s={self.s}, m={self.m}"


def make_classifier(
    in_features: int, num_classes: int, kind: str = "linear",
    scale: float | None = None, margin: float | None = None,
) -> nn.Module:
    """Bias-free ``Linear`` initialised N(0, 0.001), or a margin head (``arc``/``cos``)."""
    if kind == "linear":
        fc = nn.Linear(in_features, num_classes, bias=False)
        nn.init.normal_(fc.weight, std=0.001)
        return fc
    if kind in MARGIN_DEFAULTS:
        return MarginHead(in_features, num_classes, kind, scale, margin)
    raise ValueError(f"Unknown classifier {kind!r}; choices: {', '.join(CLASSIFIERS)}")


def make_bnneck(dim: int) -> nn.BatchNorm1d:
    """BatchNorm1d with weight 1, bias 0 and the bias frozen (no shift)."""
    bn = nn.BatchNorm1d(dim)
    nn.init.ones_(bn.weight)
    nn.init.zeros_(bn.bias)
    bn.bias.requires_grad_(False)
    return bn


class ReidHead(nn.Module):
    """pool -> [embedding Linear] -> BNNeck ``feat_bn`` -> [dropout] -> classifier.

    ``forward(fmap, labels)`` returns ``{"pooled", "bn", "logits"}``. ``pooled`` is the pooled
    backbone feature before any embedding and BN (as in MMT), which the triplet losses use;
    ``bn`` the BNNeck output; ``logits`` the classifier output on ``bn`` (``None`` when
    ``num_classes == 0``). With an embedding, as in MMT, a ReLU is applied to ``bn`` before
    dropout and the classifier.
    """

    def __init__(self, in_dim: int, num_classes: int = 0, pooling: str = "avg",
                 gem_p: float = 3.0, gem_learnable: bool | None = None, embed_dim: int = 0,
                 dropout: float = 0.0, classifier: str = "linear", scale: float | None = None,
                 margin: float | None = None) -> None:
        super().__init__()
        self.pool = make_pooling(pooling, gem_p, gem_learnable)
        self.pooling = pooling
        self.in_dim = in_dim
        self.has_embedding = embed_dim > 0
        if self.has_embedding:
            self.feat = nn.Linear(in_dim, embed_dim)
            nn.init.kaiming_normal_(self.feat.weight, mode="fan_out")
            nn.init.zeros_(self.feat.bias)
        self.out_dim = embed_dim if self.has_embedding else in_dim
        self.feat_bn = make_bnneck(self.out_dim)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier_kind = classifier
        self.scale, self.margin = scale, margin
        self.num_classes = 0
        self.classifier: nn.Module | None = None
        self.reset_classifier(num_classes)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with a fresh one of ``num_classes`` rows (0 = none)."""
        self.num_classes = int(num_classes)
        if self.num_classes > 0:
            device = self.feat_bn.weight.device
            self.classifier = make_classifier(
                self.out_dim, self.num_classes, self.classifier_kind, self.scale, self.margin
            ).to(device)
        else:
            self.classifier = None

    def classify(self, bn: Tensor, labels: Tensor | None = None) -> Tensor | None:
        if self.classifier is None:
            return None
        z = self.drop(F.relu(bn) if self.has_embedding else bn)
        if isinstance(self.classifier, MarginHead):
            return self.classifier(z, labels)
        return self.classifier(z)

    def forward(self, fmap: Tensor, labels: Tensor | None = None) -> dict[str, Any]:
        pooled = self.pool(fmap)
        bn = self.feat_bn(self.feat(pooled) if self.has_embedding else pooled)
        return {"pooled": pooled, "bn": bn, "logits": self.classify(bn, labels)}
