"""The ``pplr`` method: Part-based Pseudo Label Refinement (CVPR 2022), fully unsupervised,
with and without camera labels (METHODS §6).

One part network (P = 3 horizontal stripes). Each epoch: normalised global and part features
of every target-train image; DBSCAN on the k-reciprocal Jaccard distance of the global features
(SpCL variant, k1 30, k2 6); the cross-agreement score of every image and part (k = 20, all
images, before outlier removal), logged to ``scores.npy``; outliers dropped; global and part
classifier rows ``[0:#clusters]`` re-initialised with the normalised cluster centroids; with
``camera_aware`` the camera-aware proxies. Each iteration: PGLR on the global logits, CE-LS (epochs
< ``aals_epoch``) or AALS on each part, soft-margin triplet on the global BNNeck feature, and with
``camera_aware`` ``lam_cam`` x the inter-camera contrastive loss (global + mean over parts).
One Adam for the whole run, StepLR per epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from reid_pplr import labels as L
from reid_runner.config import ConfigError, MethodConfig
from reid_runner.method import Method

if TYPE_CHECKING:
    from torch import nn

    from reid_runner._streams import Stream
    from reid_runner.context import StageContext


@dataclass
class PPLRConfig(MethodConfig):
    """Stage keys of ``pplr`` (official defaults, ``train_pplr.py`` / ``train_pplr_cam.py``)."""

    epochs: int = 50
    iters: int = 400
    #: Evaluation cadence on the target test split (reported only, never used for selection).
    eval_every: int = 5
    #: Part architecture. Empty: ``model.arch`` when it is a part model, else its part variant
    #: ``<model.arch>part`` (``resnet50`` -> ``resnet50part``, ``resnet18`` -> ``resnet18part``).
    arch: str = ""
    #: Number of horizontal stripes P.
    num_parts: int = 3
    #: Classifier rows (global and per part): an upper bound on the number of clusters.
    max_classes: int = 3000
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    #: StepLR: x ``gamma`` every ``step_size`` epochs (stepped after each epoch).
    step_size: int = 20
    gamma: float = 0.1
    #: DBSCAN radius on the Jaccard distance (Market/MSMT17 0.5; -cam Market 0.4, MSMT17 0.6;
    #: VeRi 0.7).
    eps: float = 0.5
    min_samples: int = 4
    #: k-reciprocal Jaccard parameters (SpCL variant, as PPLR's faiss code).
    k1: int = 30
    k2: int = 6
    jaccard_variant: str = "spcl"
    #: kNN backend of reid-cluster (``torch``; ``faiss-flat`` needs reid-cluster[faiss]).
    knn_backend: str = "torch"
    #: Neighbourhood size of the cross-agreement score.
    k: int = 20
    #: Weight of the hard label in part-guided label refinement.
    beta: float = 0.5
    #: First epoch of agreement-aware label smoothing (earlier: CE-LS on the parts).
    aals_epoch: int = 5
    label_smoothing: float = 0.1
    triplet_margin: float = 0.0
    random_erasing: float = 0.5
    #: PPLR with camera labels: camera-aware proxies and the inter-camera contrastive loss.
    camera_aware: bool = False
    #: Weight of the inter-camera contrastive loss (MSMT17: 1.0).
    lam_cam: float = 0.5
    proxy_temperature: float = 0.07
    hard_negatives: int = 50

    def validate(self, where: str) -> None:
        super().validate(where)
        for key in ("lr", "eps", "gamma", "proxy_temperature"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{where}.{key}: must be positive, got {getattr(self, key)}")
        for key in ("num_parts", "max_classes", "step_size", "k", "k1", "k2", "min_samples",
                    "hard_negatives"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{where}.{key}: must be >= 1, got {getattr(self, key)}")
        for key in ("beta", "label_smoothing", "random_erasing"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"{where}.{key}: {getattr(self, key)} is not in [0, 1]")
        if self.lam_cam < 0 or self.aals_epoch < 0:
            raise ConfigError(f"{where}: lam_cam and aals_epoch must be >= 0")
        if self.jaccard_variant not in ("spcl", "mmt"):
            raise ConfigError(
                f"{where}.jaccard_variant: {self.jaccard_variant!r} is not spcl or mmt")


def resolve_arch(stage_arch: str, model_arch: str, pm: Any, where: str = "stages.pplr") -> str:
    """The part architecture a PPLR stage builds (see :attr:`PPLRConfig.arch`)."""
    from reid_models import backbone_registry
    from reid_models.model import PartReidModel

    reg = backbone_registry(pm)

    def is_part(name: str) -> bool:
        return issubclass(reg.get(name).model_class(), PartReidModel)

    parts = [n for n in reg.names() if is_part(n)]
    if stage_arch:
        if not is_part(stage_arch):
            raise ConfigError(f"{where}.arch: {stage_arch!r} is not a part model; "
                              f"part models: {parts}")
        return stage_arch
    if is_part(model_arch):
        return model_arch
    if f"{model_arch}part" in parts:
        return f"{model_arch}part"
    raise ConfigError(f"{where}.arch: model.arch {model_arch!r} has no part variant; set "
                      f"{where}.arch to one of {parts}")


def load_init(net: nn.Module, path: Any, log: Any = None, pm: Any = None) -> dict[str, Any]:
    """Initialise the part network from a model file of the same architecture or of the plain
    backbone it extends (``resnet18`` weights into ``resnet18part``).

    The backbone and the global BNNeck must match exactly; the part BNNecks and part classifiers
    the file lacks keep their fresh initialisation, as do classifiers of another size (they are
    re-initialised from centroids every epoch anyway). Anything else is an error naming the file.
    """
    from reid_models import backbone_registry
    from reid_runner.checkpoint import CheckpointError, load_state_strict
    from reid_runner.engine import read_model_artifact

    meta, nets = read_model_artifact(path)
    name = next(iter(nets))
    src_arch = meta.get("arch")
    if src_arch not in (None, net.arch):
        try:
            base = backbone_registry(pm).get(src_arch)
        except Exception:
            base = None
        if base is None or not isinstance(net.backbone, base):
            raise CheckpointError(
                f"model file {path} holds a {src_arch!r} network, which is neither {net.arch!r} "
                f"nor the backbone it extends")
    state = dict(nets[name])
    own = net.state_dict()
    fresh = []
    for k, v in own.items():
        missing_part = k not in state and k.startswith(("part_bn.", "part_classifiers."))
        resized = "classifier" in k and k in state and state[k].shape != v.shape
        if missing_part or resized:
            state[k] = v
            fresh.append(k)
    for k in [k for k in state if k not in own and "classifier" in k]:
        del state[k]
    load_state_strict(net, state, f"network {name!r} of {path}")
    if log is not None:
        log.info("pplr: initialised %s from %s (%s); fresh: %d tensors (part BNNecks/classifiers)",
                 net.arch, path, src_arch, len(fresh))
    return meta


class PPLR(Method):
    """PPLR and PPLR-cam (``camera_aware: true``), METHODS §6."""

    name = "pplr"
    Config = PPLRConfig
    cfg: PPLRConfig

    # ------------------------------------------------------------------ building
    def build(self, ctx: StageContext) -> None:
        from reid_cluster import create_clusterer
        from reid_models import create_loss, create_model

        c = self.cfg
        m = ctx.config.model
        self.arch = resolve_arch(c.arch, m.arch, ctx.pm, f"stages.{ctx.name}")
        self.samples = list(ctx.dataset("target").train)
        init = ctx.inputs.get("init")
        pretrained = None if init is not None else ("imagenet" if m.pretrained else None)
        self.net = create_model(self.arch, num_classes=c.max_classes, pretrained=pretrained,
                                pm=ctx.pm, **{**m.options, "num_parts": c.num_parts})
        self.net = self.net.to(ctx.device)
        if init is not None:
            load_init(self.net, init, ctx.log if ctx.is_main else None, ctx.pm)
        self.net.train()
        # one optimiser and one StepLR for the whole run (never reset)
        self.opt = torch.optim.Adam([p for p in self.net.parameters() if p.requires_grad],
                                    lr=c.lr, weight_decay=c.weight_decay)
        self.sched = torch.optim.lr_scheduler.StepLR(self.opt, c.step_size, c.gamma)
        self.clusterer = create_clusterer("dbscan", pm=ctx.pm, eps=c.eps,
                                          min_samples=c.min_samples, k1=c.k1, k2=c.k2,
                                          variant=c.jaccard_variant, knn_backend=c.knn_backend)
        self.pglr = create_loss("pglr", pm=ctx.pm, beta=c.beta)
        self.aals = create_loss("aals", pm=ctx.pm)
        self.ce = create_loss("cross_entropy", pm=ctx.pm, epsilon=c.label_smoothing)
        self.tri = create_loss("soft_triplet", pm=ctx.pm, margin=c.triplet_margin)
        self.cam_loss = create_loss("camera_proxy_contrastive", pm=ctx.pm,
                                    temperature=c.proxy_temperature,
                                    num_hard_negatives=c.hard_negatives)
        self.labels: np.ndarray | None = None
        self.num_clusters = 0
        self.scores: torch.Tensor | None = None  # (N, P), every image
        self.proxies: L.CameraProxies | None = None

    def signature(self, ctx: StageContext) -> dict[str, Any]:
        c = self.cfg
        return {"method": self.name, "arch": self.arch, "num_classes": c.max_classes,
                "num_parts": c.num_parts, "camera_aware": c.camera_aware}

    # ------------------------------------------------------------------ per epoch
    def epoch_start(self, ctx: StageContext, epoch: int) -> None:
        c = self.cfg
        g, p = L.extract_all(ctx, self.net, self.samples, c.num_parts)
        res = L.label_and_score(ctx, self.clusterer, g, p, c.k, self.labels, self.samples,
                                knn_backend=c.knn_backend)
        if ctx.is_main:
            L.save_scores(ctx.stage_dir / "scores.npy", epoch, res.scores)
        if res.num_clusters < 2:
            raise RuntimeError(
                f"stage {ctx.name!r}, epoch {epoch}: DBSCAN found {res.num_clusters} cluster(s) "
                f"in {len(self.samples)} images (eps={c.eps}); change stages.{ctx.name}.eps")
        if res.num_clusters > c.max_classes:
            raise RuntimeError(
                f"stage {ctx.name!r}, epoch {epoch}: {res.num_clusters} clusters exceed the "
                f"{c.max_classes} classifier rows; raise stages.{ctx.name}.max_classes")
        self.labels, self.num_clusters = res.labels, res.num_clusters
        self.scores = torch.from_numpy(res.scores)
        cg = L.centroids(g, self.labels, self.num_clusters)
        cp = L.centroids(p, self.labels, self.num_clusters)  # [C, D, P]
        self.net.init_classifier(cg.to(ctx.device),
                                 part_centroids=[cp[:, :, i].to(ctx.device)
                                                 for i in range(c.num_parts)])
        self.proxies = None
        if c.camera_aware:
            cams = np.asarray([int(s[2]) for s in self.samples])
            self.proxies = L.camera_proxies(g, p, self.labels, cams)

    def data(self, ctx: StageContext, epoch: int) -> dict[str, Stream]:
        from reid_data import build_train_transform

        assert self.labels is not None and self.scores is not None, "epoch_start not run"
        d = ctx.config.data
        keep = np.flatnonzero(self.labels >= 0)
        # batch "index" = position in the kept list -> the scores re-indexed to kept images
        self._kept_scores = L.kept_scores(self.scores, self.labels).to(ctx.device)
        self._proxies_dev = None
        if self.proxies is not None:
            self._proxies_dev = L.CameraProxies(*(t.to(ctx.device) for t in self.proxies))
        tf = build_train_transform(d.height, d.width, random_erasing=self.cfg.random_erasing)
        return {"target": ctx.stream("target", [self.samples[i] for i in keep], tf,
                                     identities=True, pids=self.labels[keep].tolist())}

    def train_step(self, ctx: StageContext, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        c = self.cfg
        t = batch["target"]
        out = ctx.gather(ctx.forward(self.net, t["image"]))
        y = ctx.gather(t["pid"]).long()
        ca = self._kept_scores[ctx.gather(t["index"]).long()]  # [B, P]
        n = self.num_clusters
        z_g = out["logits"][:, :n].float()
        z_p = out["part_logits"][:, :n, :].float()
        l_gce = self.pglr(z_g, z_p, y, ca)
        if ctx.epoch >= c.aals_epoch:
            l_pce = sum(self.aals(z_p[:, :, i], y, ca[:, i]) for i in range(c.num_parts))
        else:
            l_pce = sum(self.ce(z_p[:, :, i], y) for i in range(c.num_parts))
        l_pce = l_pce / c.num_parts
        l_tri = self.tri(out["bn"].float(), y)
        losses = {"gce": l_gce, "pce": l_pce, "triplet": l_tri}
        loss = l_gce + l_pce + l_tri
        if self._proxies_dev is not None:
            px = self._proxies_dev
            cams = ctx.gather(t["camid"]).long()
            l_gcam = self.cam_loss(out["bn"].float(), y, cams, px.proxies[0], px.labels, px.cams)
            l_pcam = sum(self.cam_loss(out["part_bn"][:, :, i].float(), y, cams,
                                       px.proxies[i + 1], px.labels, px.cams)
                         for i in range(c.num_parts)) / c.num_parts
            losses["cam"] = l_gcam + l_pcam
            loss = loss + c.lam_cam * losses["cam"]
        with torch.no_grad():
            losses["accuracy"] = (z_g.argmax(1) == y).float().mean()
        return {"loss": loss, **losses}

    def epoch_end(self, ctx: StageContext, epoch: int) -> None:
        self.sched.step()

    # ------------------------------------------------------------------ state
    def models(self) -> dict[str, nn.Module]:
        return {"model": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.opt}

    def schedulers(self) -> dict[str, Any]:
        return {"lr": self.sched}

    def state_dict(self) -> dict[str, Any]:
        px = self.proxies
        return {
            "labels": None if self.labels is None else torch.from_numpy(self.labels),
            "num_clusters": int(self.num_clusters),
            "scores": self.scores,
            "proxies": None if px is None else {"proxies": px.proxies, "labels": px.labels,
                                                "cams": px.cams},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        lab = state.get("labels")
        self.labels = None if lab is None else lab.numpy().astype(np.int64)
        self.num_clusters = int(state.get("num_clusters", 0))
        self.scores = state.get("scores")
        px = state.get("proxies")
        self.proxies = None if px is None else L.CameraProxies(px["proxies"], px["labels"],
                                                               px["cams"])
