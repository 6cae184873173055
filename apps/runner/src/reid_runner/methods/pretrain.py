"""``pretrain``: supervised source-domain training (METHODS §1.2).

Per iteration one source batch (P x K identities) with CE-LS(0.1) + soft-margin triplet (margin 0,
on the pooled feature), weights 1:1, and one target batch (plain shuffling) forwarded only to adapt
the BN statistics. Adam (lr 3.5e-4, wd 5e-4); warm-up multi-step LR stepped per epoch (from
0.01 x lr over 10 epochs, x0.1 at epochs 40 and 70); 80 epochs x 100 iterations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from reid_runner.config import ConfigError, MethodConfig
from reid_runner.method import Method

if TYPE_CHECKING:
    from torch import nn

    from reid_runner._streams import Stream
    from reid_runner.context import StageContext


@dataclass
class PretrainConfig(MethodConfig):
    """Stage keys of ``pretrain`` (official MMT defaults)."""

    epochs: int = 80
    iters: int = 100
    eval_on: list[str] = field(default_factory=lambda: ["source", "target"])
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    #: Linear warm-up from ``warmup_factor * lr`` over this many epochs.
    warmup_epochs: int = 10
    warmup_factor: float = 0.01
    #: Epochs at which the LR is multiplied by ``gamma``.
    milestones: list[int] = field(default_factory=lambda: [40, 70])
    gamma: float = 0.1
    label_smoothing: float = 0.1
    triplet_margin: float = 0.0
    #: Forward a target batch each iteration to adapt the BN statistics (no loss).
    target_bn: bool = True
    #: Random erasing probability of the source transform (0 in the official pre-training).
    random_erasing: float = 0.0
    #: Labelled dataset to train on: ``source`` (pre-training), or ``target`` with its true ids
    #: (the supervised upper bound of a benchmark; no separate BN-adaptation batch then).
    train_on: str = "source"

    def validate(self, where: str) -> None:
        super().validate(where)
        if self.lr <= 0:
            raise ConfigError(f"{where}.lr: must be positive")
        if self.train_on not in ("source", "target"):
            raise ConfigError(f"{where}.train_on: {self.train_on!r} is not source or target")
        if sorted(self.milestones) != list(self.milestones):
            raise ConfigError(f"{where}.milestones: must be increasing, got {self.milestones}")


def warmup_multistep(optimizer: torch.optim.Optimizer, milestones: list[int], gamma: float,
                     warmup_factor: float, warmup_epochs: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The official WarmupMultiStepLR (linear warm-up) as a LambdaLR stepped per epoch."""
    ms, g, wf, we = list(milestones), float(gamma), float(warmup_factor), int(warmup_epochs)

    def factor(epoch: int) -> float:
        warm = 1.0
        if epoch < we:
            alpha = epoch / we
            warm = wf * (1 - alpha) + alpha
        return warm * g ** sum(1 for m in ms if m <= epoch)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class Pretrain(Method):
    """Supervised pre-training on the source dataset (target batch for BN statistics)."""

    name = "pretrain"
    Config = PretrainConfig
    cfg: PretrainConfig

    def build(self, ctx: StageContext) -> None:
        from reid_models import create_loss

        src = ctx.dataset(self.cfg.train_on)
        self.num_classes = src.num_train_pids
        self.net = ctx.create_model(self.num_classes)
        if "init" in ctx.inputs:  # optional warm start from another model file
            from reid_runner.engine import load_network

            load_network(self.net, ctx.inputs["init"], pm=ctx.pm,
                         log=ctx.log if ctx.is_main else None)
        self.net.train()
        c = self.cfg
        self.opt = torch.optim.Adam(
            [p for p in self.net.parameters() if p.requires_grad], lr=c.lr,
            weight_decay=c.weight_decay)
        self.sched = warmup_multistep(self.opt, c.milestones, c.gamma, c.warmup_factor,
                                      c.warmup_epochs)
        self.ce = create_loss("cross_entropy", pm=ctx.pm, epsilon=c.label_smoothing)
        self.tri = create_loss("soft_triplet", pm=ctx.pm, margin=c.triplet_margin)

    def signature(self, ctx: StageContext) -> dict[str, Any]:
        return {**super().signature(ctx), "num_classes": self.num_classes}

    def data(self, ctx: StageContext, epoch: int) -> dict[str, Stream]:
        from reid_data import build_train_transform

        d = ctx.config.data
        src = ctx.dataset(self.cfg.train_on)
        tf = build_train_transform(d.height, d.width, random_erasing=self.cfg.random_erasing)
        streams = {"source": ctx.stream("source", src.train, tf, identities=True)}
        if self.cfg.target_bn and d.target and self.cfg.train_on == "source":
            tgt = ctx.dataset("target")
            tf_t = build_train_transform(d.height, d.width, random_erasing=0.0)
            streams["target"] = ctx.stream("target", tgt.train, tf_t, identities=False)
        return streams

    def train_step(self, ctx: StageContext, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        src = batch["source"]
        out = ctx.gather(ctx.forward(self.net, src["image"]))
        y = ctx.gather(src["pid"])
        l_ce = self.ce(out["logits"], y)
        l_tri = self.tri(out["pooled"], y)
        if "target" in batch:
            with torch.no_grad():
                ctx.forward(self.net, batch["target"]["image"])  # BN statistics only
        with torch.no_grad():
            acc = (out["logits"].argmax(1) == y).float().mean()
        return {"loss": l_ce + l_tri, "ce": l_ce, "triplet": l_tri, "accuracy": acc}

    def epoch_end(self, ctx: StageContext, epoch: int) -> None:
        self.sched.step()

    def models(self) -> dict[str, nn.Module]:
        return {"model": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.opt}

    def schedulers(self) -> dict[str, Any]:
        return {"lr": self.sched}
