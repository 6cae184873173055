"""MMT (Mutual Mean-Teaching, ICLR 2020) and the single-model clustering baseline (METHODS §1).

``mmt``: two networks initialised from two source pre-trainings (inputs ``init_1``/``init_2``)
and their mean teachers. Each epoch the teachers' target features are averaged and clustered
(k-means with K, or DBSCAN on the k-reciprocal Jaccard distance), the classifiers of all four
networks are re-initialised from the normalised centroids and the Adam optimiser is re-created;
then each iteration feeds view 1 to net 1 and its teacher, view 2 to net 2 and its teacher, and
minimises ``(1-λ_id) L_ce + (1-λ_tri) L_tri + λ_id L_sce + λ_tri L_stri`` where each net learns
its soft targets from the *other* net's teacher. The paper's ablation baseline is the same
method with ``soft_ce_weight=0 soft_tri_weight=0 alpha=0``.

``cluster-baseline``: one network (input ``init``), no teacher, clustering on its own features,
CE-LS + soft-margin triplet on hard pseudo labels, same schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from reid_mmt.pseudo import (
    PseudoLabelConfig,
    build_clusterer,
    pseudo_label,
)
from reid_runner.config import ConfigError, MethodConfig
from reid_runner.method import Method

if TYPE_CHECKING:
    from torch import nn

    from reid_runner._streams import Stream
    from reid_runner.context import StageContext


@dataclass
class BaselineConfig(MethodConfig, PseudoLabelConfig):
    """Stage keys of ``cluster-baseline`` (official defaults: 40 epochs x 400 iterations)."""

    epochs: int = 40
    iters: int = 400
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    triplet_margin: float = 0.0
    #: Random erasing probability of the target training transform.
    random_erasing: float = 0.5
    #: Re-create the Adam optimiser after every re-clustering (official MMT behaviour).
    reset_optimizer: bool = True

    def validate(self, where: str) -> None:
        super().validate(where)
        self.validate_clustering(where)
        if self.lr <= 0:
            raise ConfigError(f"{where}.lr: must be positive")


@dataclass
class MMTConfig(BaselineConfig):
    """Stage keys of ``mmt`` (official defaults; README variants: ``soft_tri_weight=1.0``, and
    ``model.options.dropout=0.5``)."""

    #: EMA momentum of the mean teachers (0 turns them into copies: the paper's baseline).
    alpha: float = 0.999
    #: λ_id: weight of the soft cross-entropy (1 - λ_id on the hard CE).
    soft_ce_weight: float = 0.5
    #: λ_tri: weight of the soft triplet (1 - λ_tri on the hard triplet).
    soft_tri_weight: float = 0.8
    #: Networks evaluated and exported: ``ema1``, ``ema2`` or ``both``.
    export: str = "ema1"

    def validate(self, where: str) -> None:
        super().validate(where)
        for key in ("soft_ce_weight", "soft_tri_weight", "alpha"):
            v = getattr(self, key)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{where}.{key}: {v} is not in [0, 1]")
        if self.export not in ("ema1", "ema2", "both"):
            raise ConfigError(f"{where}.export: {self.export!r} is not ema1, ema2 or both")


class _ClusteringMethod(Method):
    """What the MMT family shares: per-epoch pseudo labels, classifier re-init, optimiser reset."""

    cfg: BaselineConfig

    # -- subclasses define the networks
    def students(self) -> list[nn.Module]:
        raise NotImplementedError

    def feature_nets(self) -> list[nn.Module]:
        raise NotImplementedError

    def classifier_nets(self) -> list[nn.Module]:
        raise NotImplementedError

    def _init_common(self, ctx: StageContext) -> int:
        from reid_models import create_loss

        c = self.cfg
        self.samples = list(ctx.dataset("target").train)
        self.clusterer = build_clusterer(c, ctx.seed, ctx.pm)
        self.labels: np.ndarray | None = None
        self.num_clusters = 0
        self.ce = create_loss("cross_entropy", pm=ctx.pm, epsilon=c.label_smoothing)
        self.tri = create_loss("soft_triplet", pm=ctx.pm, margin=c.triplet_margin)
        # k-means: a fixed K-way classifier; DBSCAN: an upper bound (one row per image)
        return c.num_clusters if c.clustering == "kmeans" else len(self.samples)

    def _load_init(self, ctx: StageContext, net: nn.Module, role: str) -> None:
        from reid_runner.engine import load_network

        load_network(net, ctx.input_path(role))

    def _new_optimizer(self) -> torch.optim.Optimizer:
        params = [p for n in self.students() for p in n.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)

    def epoch_start(self, ctx: StageContext, epoch: int) -> None:
        c = self.cfg
        feats = [ctx.extract(n, self.samples, normalize=False) for n in self.feature_nets()]
        f = torch.stack(feats).mean(0)
        if c.clustering == "dbscan":
            f = torch.nn.functional.normalize(f, dim=1)
        result = pseudo_label(ctx, self.clusterer, f, self.labels, self.samples)
        self.labels = np.asarray(result.labels, dtype=np.int64)
        self.num_clusters = result.num_clusters
        # rows 0..#clusters-1 <- normalised centroids of the clustered features (all 4 nets);
        # reid-cluster computed them on rank 0 with the labels and broadcast them
        cent = torch.as_tensor(result.centroids, dtype=torch.float32).to(ctx.device)
        for net in self.classifier_nets():
            net.init_classifier(cent)
        if c.reset_optimizer or not hasattr(self, "opt"):
            self.opt = self._new_optimizer()

    def data(self, ctx: StageContext, epoch: int) -> dict[str, Stream]:
        from reid_data import MultiView, build_train_transform

        assert self.labels is not None, "pseudo labels are missing (epoch_start not run)"
        d = ctx.config.data
        keep = np.flatnonzero(self.labels >= 0)
        samples = [self.samples[i] for i in keep]
        tf = build_train_transform(d.height, d.width, random_erasing=self.cfg.random_erasing)
        views = self.views()
        transform = MultiView(tf, views=views) if views > 1 else tf
        return {"target": ctx.stream("target", samples, transform, identities=True,
                                     pids=self.labels[keep].tolist())}

    def views(self) -> int:
        return 1

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.opt}

    def state_dict(self) -> dict[str, Any]:
        return {
            "labels": None if self.labels is None else torch.from_numpy(self.labels),
            "num_clusters": int(self.num_clusters),
            "eps": getattr(self.clusterer, "eps_", None),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        lab = state.get("labels")
        self.labels = None if lab is None else lab.numpy().astype(np.int64)
        self.num_clusters = int(state.get("num_clusters", 0))
        if state.get("eps") is not None and hasattr(self.clusterer, "eps_"):
            self.clusterer.eps_ = float(state["eps"])

    def signature(self, ctx: StageContext) -> dict[str, Any]:
        return {**super().signature(ctx), "clustering": self.cfg.clustering,
                "num_classes": int(self.num_classes)}

    def _logits(self, out: dict[str, torch.Tensor]) -> torch.Tensor:
        return out["logits"][:, : self.num_clusters]


class ClusterBaseline(_ClusteringMethod):
    """The general single-model clustering baseline (METHODS §1.5)."""

    name = "cluster-baseline"
    Config = BaselineConfig

    def build(self, ctx: StageContext) -> None:
        self.num_classes = self._init_common(ctx)
        self.net = ctx.create_model(self.num_classes, pretrained=False)
        self._load_init(ctx, self.net, "init")
        self.net.train()
        self.opt = self._new_optimizer()

    def students(self) -> list[nn.Module]:
        return [self.net]

    def feature_nets(self) -> list[nn.Module]:
        return [self.net]

    def classifier_nets(self) -> list[nn.Module]:
        return [self.net]

    def train_step(self, ctx: StageContext, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        t = batch["target"]
        out = ctx.gather(ctx.forward(self.net, t["image"]))
        y = ctx.gather(t["pid"])
        l_ce = self.ce(self._logits(out), y)
        l_tri = self.tri(out["pooled"], y)
        return {"loss": l_ce + l_tri, "ce": l_ce, "triplet": l_tri}

    def models(self) -> dict[str, nn.Module]:
        return {"model": self.net}


class MMT(_ClusteringMethod):
    """Mutual Mean-Teaching with k-means or DBSCAN pseudo labels (METHODS §1.3-1.4)."""

    name = "mmt"
    Config = MMTConfig
    cfg: MMTConfig

    def build(self, ctx: StageContext) -> None:
        from reid_models import MeanTeacher, create_loss

        self.num_classes = self._init_common(ctx)
        c = self.cfg
        self.net1 = ctx.create_model(self.num_classes, pretrained=False)
        self.net2 = ctx.create_model(self.num_classes, pretrained=False)
        self._load_init(ctx, self.net1, "init_1")
        self._load_init(ctx, self.net2, "init_2")
        self.ema1 = MeanTeacher(self.net1, c.alpha).to(ctx.device)
        self.ema2 = MeanTeacher(self.net2, c.alpha).to(ctx.device)
        for n in (self.net1, self.net2, self.ema1, self.ema2):
            n.train()  # teachers' BN statistics follow their own forwards (§0.7)
        self.opt = self._new_optimizer()
        self.sce = create_loss("soft_cross_entropy", pm=ctx.pm)
        self.stri = create_loss("soft_triplet_teacher", pm=ctx.pm)

    def students(self) -> list[nn.Module]:
        return [self.net1, self.net2]

    def feature_nets(self) -> list[nn.Module]:
        return [self.ema1.module, self.ema2.module]

    def classifier_nets(self) -> list[nn.Module]:
        return [self.net1, self.net2, self.ema1.module, self.ema2.module]

    def views(self) -> int:
        return 2

    def train_step(self, ctx: StageContext, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        c = self.cfg
        t = batch["target"]
        v1, v2 = t["images"]
        y = ctx.gather(t["pid"])
        o1 = ctx.gather(ctx.forward(self.net1, v1))
        o2 = ctx.gather(ctx.forward(self.net2, v2))
        with torch.no_grad():
            e1 = ctx.gather(ctx.forward(self.ema1, v1))
            e2 = ctx.gather(ctx.forward(self.ema2, v2))
        z1, z2, ze1, ze2 = (self._logits(o) for o in (o1, o2, e1, e2))
        l_ce = self.ce(z1, y) + self.ce(z2, y)
        l_tri = self.tri(o1["pooled"], y) + self.tri(o2["pooled"], y)
        # each network learns from the *other* network's mean teacher
        l_sce = self.sce(z1, ze2) + self.sce(z2, ze1)
        l_stri = self.stri(o1["pooled"], e2["pooled"], y) + self.stri(o2["pooled"], e1["pooled"], y)
        w_id, w_tri = c.soft_ce_weight, c.soft_tri_weight
        loss = (1 - w_id) * l_ce + (1 - w_tri) * l_tri + w_id * l_sce + w_tri * l_stri
        return {"loss": loss, "ce": l_ce, "triplet": l_tri, "soft_ce": l_sce,
                "soft_triplet": l_stri}

    def after_step(self, ctx: StageContext) -> None:
        step = ctx.global_step
        self.ema1.update(self.net1, step)
        self.ema2.update(self.net2, step)

    def models(self) -> dict[str, nn.Module]:
        return {"net1": self.net1, "net2": self.net2, "ema1": self.ema1, "ema2": self.ema2}

    def eval_models(self) -> dict[str, nn.Module]:
        e = self.cfg.export
        nets = {"ema1": self.ema1.module, "ema2": self.ema2.module}
        return nets if e == "both" else {e: nets[e]}
