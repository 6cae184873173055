"""The re-ID network wrapper (METHODS §0.4) and PPLR's part model (§6.1).

``ReidModel = backbone + head``. Train mode returns a dict ``{"pooled", "bn", "logits"}``; eval
mode returns the L2-normalised BN feature (``normalize_eval=False`` gives it un-normalised,
``eval_feature="pooled"`` the pooled feature instead, as AGW's "POOL" features).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from reid_models.backbones.base import Backbone
from reid_models.heads import ReidHead, make_bnneck, make_classifier

EVAL_FEATURES = ("bn", "pooled")


class ReidModel(nn.Module):
    """A backbone and a :class:`~reid_models.heads.ReidHead`.

    Args:
        backbone: a built :class:`~reid_models.backbones.base.Backbone`.
        num_classes: classifier rows (0 = no classifier; ``logits`` is then ``None``).
        normalize_eval: L2-normalise the eval-mode feature (default True).
        eval_feature: ``"bn"`` (default) or ``"pooled"``.
        **head_options: passed to :class:`~reid_models.heads.ReidHead` (``pooling``, ``gem_p``,
            ``gem_learnable``, ``embed_dim``, ``dropout``, ``classifier``, ``scale``, ``margin``).
    """

    def __init__(self, backbone: Backbone, num_classes: int = 0, normalize_eval: bool = True,
                 eval_feature: str = "bn", **head_options: Any) -> None:
        super().__init__()
        if eval_feature not in EVAL_FEATURES:
            raise ValueError(f"Unknown eval_feature {eval_feature!r}; choices: {EVAL_FEATURES}")
        self.arch = backbone.name
        self.backbone = backbone
        self.head = ReidHead(backbone.feature_dim, num_classes, **head_options)
        self.normalize_eval = normalize_eval
        self.eval_feature = eval_feature
        self.load_report: Any = None

    @property
    def feature_dim(self) -> int:
        """Dimension of the BN feature (the backbone's, or the embedding's)."""
        return self.head.out_dim

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def forward_features(self, x: Tensor, **kwargs: Any) -> Tensor:
        """The backbone feature map ``[B, C, h, w]`` (kwargs such as ``modality`` pass through)."""
        return self.backbone(x, **kwargs)

    def _eval_output(self, out: dict[str, Any]) -> Tensor:
        feat = out[self.eval_feature]
        return F.normalize(feat) if self.normalize_eval else feat

    def forward_head(self, fmap: Tensor, labels: Tensor | None = None,
                     pre_logits: bool = False) -> Any:
        """Head on a feature map: the train dict, or the eval feature in eval mode.

        ``pre_logits=True`` returns the un-normalised BN feature in either mode.
        """
        out = self.head(fmap, labels)
        if pre_logits:
            return out["bn"]
        return out if self.training else self._eval_output(out)

    def forward(self, x: Tensor, labels: Tensor | None = None, **kwargs: Any) -> Any:
        """Train mode: ``{"pooled", "bn", "logits"}``; eval mode: the (normalised) feature.

        ``labels`` are needed only by margin heads (ArcFace/CosFace) to place the margin.
        """
        return self.forward_head(self.forward_features(x, **kwargs), labels)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with ``num_classes`` fresh rows (same kind; 0 removes it)."""
        self.head.reset_classifier(num_classes)

    @torch.no_grad()
    def init_classifier(self, centroids: Tensor, start: int = 0) -> None:
        """Overwrite classifier rows ``[start : start + n]`` with L2-normalised ``centroids``.

        ``start=0`` with ``n`` rows is the per-epoch re-init of MMT/PPLR; MMT+ writes target
        centroids after the source rows with ``start=C_src``.
        """
        _write_rows(self.head.classifier, centroids, start, "classifier")


def _write_rows(classifier: nn.Module | None, centroids: Tensor, start: int, what: str) -> None:
    if classifier is None:
        raise ValueError(f"init_classifier: the model has no {what} (num_classes=0); "
                         "call reset_classifier(n) first")
    weight = classifier.weight
    n = centroids.size(0)
    if centroids.dim() != 2 or centroids.size(1) != weight.size(1):
        raise ValueError(f"init_classifier: {what} centroids must be [n, {weight.size(1)}], "
                         f"got {list(centroids.shape)}")
    if start < 0 or start + n > weight.size(0):
        raise ValueError(f"init_classifier: rows [{start}:{start + n}] exceed the {what}'s "
                         f"{weight.size(0)} rows")
    weight[start:start + n] = F.normalize(centroids.to(weight), dim=1)


class PartReidModel(ReidModel):
    """PPLR's part model: the global branch plus ``num_parts`` horizontal stripes.

    Parts: adaptive average pooling to ``(num_parts, 1)``, a BNNeck (bias frozen) and a bias-free
    classifier per part. Train mode adds ``part_pooled`` ``[B, D, P]``, ``part_bn`` ``[B, D, P]``
    and ``part_logits`` ``[B, C, P]`` (``None`` without classes) to the dict. Eval mode returns
    the normalised global feature; :meth:`extract_all_features` returns global and parts.
    """

    def __init__(self, backbone: Backbone, num_classes: int = 0, num_parts: int = 3,
                 **options: Any) -> None:
        if options.get("embed_dim"):
            raise ValueError("the part model has no embedding (embed_dim must be 0)")
        super().__init__(backbone, num_classes, **options)
        self.num_parts = int(num_parts)
        dim = backbone.feature_dim
        self.part_pool = nn.AdaptiveAvgPool2d((self.num_parts, 1))
        self.part_bn = nn.ModuleList([make_bnneck(dim) for _ in range(self.num_parts)])
        self.part_classifiers = nn.ModuleList()
        self._reset_parts(num_classes)

    def _reset_parts(self, num_classes: int) -> None:
        device = self.head.feat_bn.weight.device
        self.part_classifiers = nn.ModuleList(
            [make_classifier(self.feature_dim, num_classes, self.head.classifier_kind,
                             self.head.scale, self.head.margin).to(device)
             for _ in range(self.num_parts)] if num_classes > 0 else []
        )

    def _parts(self, fmap: Tensor) -> tuple[Tensor, list[Tensor]]:
        pooled = self.part_pool(fmap).flatten(2)  # [B, D, P]
        return pooled, [bn(pooled[:, :, i]) for i, bn in enumerate(self.part_bn)]

    def forward_head(self, fmap: Tensor, labels: Tensor | None = None,
                     pre_logits: bool = False) -> Any:
        out = self.head(fmap, labels)
        if pre_logits:
            return out["bn"]
        if not self.training:
            return self._eval_output(out)
        pooled, bns = self._parts(fmap)
        out["part_pooled"] = pooled
        out["part_bn"] = torch.stack(bns, dim=-1)
        if len(self.part_classifiers):
            logits = [self.head.drop(b) for b in bns]
            out["part_logits"] = torch.stack(
                [fc(z, labels) if hasattr(fc, "kind") else fc(z)
                 for fc, z in zip(self.part_classifiers, logits)], dim=-1)
        else:
            out["part_logits"] = None
        return out

    def extract_all_features(self, x: Tensor, **kwargs: Any) -> tuple[Tensor, Tensor]:
        """L2-normalised global ``[B, D]`` and part ``[B, D, P]`` BN features (any mode)."""
        fmap = self.forward_features(x, **kwargs)
        out = self.head(fmap)
        _, bns = self._parts(fmap)
        parts = torch.stack([F.normalize(b) for b in bns], dim=-1)
        return F.normalize(out["bn"]), parts

    def reset_classifier(self, num_classes: int) -> None:
        super().reset_classifier(num_classes)
        self._reset_parts(num_classes)

    @torch.no_grad()
    def init_classifier(self, centroids: Tensor, start: int = 0,
                        part_centroids: Sequence[Tensor] | Tensor | None = None) -> None:
        """Global rows from ``centroids``; part ``p`` rows from ``part_centroids[p]`` (``[n, D]``
        each, i.e. a ``[P, n, D]`` tensor or a list of P tensors), all L2-normalised."""
        super().init_classifier(centroids, start)
        if part_centroids is None:
            return
        if len(part_centroids) != self.num_parts:
            raise ValueError(f"init_classifier: expected {self.num_parts} part centroid sets, "
                             f"got {len(part_centroids)}")
        for p, (fc, c) in enumerate(zip(self.part_classifiers, part_centroids)):
            _write_rows(fc, c, start, f"part {p} classifier")
