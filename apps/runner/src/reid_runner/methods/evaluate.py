"""``evaluate``: evaluate model files on datasets with any reid-eval protocol.

Each input (``inputs: {a: pretrain.model, b: /path/model.pt}``) is a model file; every network in
it is evaluated (or only ``nets``). ``ensemble: true`` evaluates the concatenation of the
L2-normalised features of all of them (METHODS §5.2). Distances pass through the
``reid_modify_distance`` hooks of the loaded plugins (camera-sim); ``rerank`` applies k-reciprocal
re-ranking (k1 20, k2 6, lambda 0.3 by default).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reid_runner.config import ConfigError, MethodConfig
from reid_runner.method import Method

if TYPE_CHECKING:
    from torch import nn

    from reid_runner.context import StageContext


@dataclass
class EvaluateConfig(MethodConfig):
    """Stage keys of ``evaluate``."""

    epochs: int = 0
    iters: int = 0
    #: Datasets to evaluate (``source``, ``target`` or registered names).
    eval_on: list[str] = field(default_factory=lambda: ["target"])
    #: ``test`` or ``val`` (a labelled validation split).
    split: str = "test"
    #: Networks of the model files to evaluate (empty: all of them).
    nets: list[str] = field(default_factory=list)
    #: Evaluate the concatenated features of every network as one model.
    ensemble: bool = False
    #: reid-eval protocol (empty: the dataset's default, ``market`` otherwise).
    protocol: str = ""
    flip: bool = False
    rerank: bool = False
    k1: int = 20
    k2: int = 6
    lambda_value: float = 0.3
    #: Write CMC curves and rank lists (PNG) into the run's ``reports/``.
    plots: bool = True

    def validate(self, where: str) -> None:
        super().validate(where)
        if self.split not in ("test", "val"):
            raise ConfigError(f"{where}.split: {self.split!r} is not 'test' or 'val'")
        if not self.inputs:
            raise ConfigError(f"{where}.inputs: name at least one model file or artifact to "
                              "evaluate, e.g. inputs: {{model: pretrain.model}}")


class Evaluate(Method):
    """Evaluate model files; no training."""

    name = "evaluate"
    Config = EvaluateConfig
    trains = False
    cfg: EvaluateConfig

    def signature(self, ctx: StageContext) -> dict[str, Any]:
        return {"method": self.name}

    def _load(self, ctx: StageContext) -> dict[str, nn.Module]:
        from reid_models import create_model
        from reid_runner.engine import load_network, read_model_artifact

        nets: dict[str, nn.Module] = {}
        for role, path in ctx.inputs.items():
            meta, states = read_model_artifact(path)
            arch = meta.get("arch") or ctx.config.model.arch
            for net_name in states:
                if self.cfg.nets and net_name not in self.cfg.nets:
                    continue
                net = create_model(arch, num_classes=0, pretrained=None, pm=ctx.pm,
                                   **ctx.config.model.options).to(ctx.device)
                load_network(net, path, net_name, pm=ctx.pm)
                net.eval()
                label = net_name if len(ctx.inputs) == 1 else f"{role}.{net_name}"
                nets[label] = net
        if not nets:
            raise ValueError(f"stage {ctx.name!r}: no network selected (nets={self.cfg.nets})")
        return nets

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from reid_runner.engine import evaluate_nets

        c = self.cfg
        nets = self._load(ctx)
        self._nets = nets
        opts: dict[str, Any] = dict(
            flip=c.flip, protocol=c.protocol or None, rerank=c.rerank,
            rerank_options={"k1": c.k1, "k2": c.k2, "lambda_value": c.lambda_value}, epoch=-1)
        targets: dict[str, Any] = dict(nets)
        if c.ensemble and len(nets) > 1:
            targets = {"ensemble": _Ensemble(list(nets.values()))}
        metrics = evaluate_nets(ctx, targets, c.eval_on, c.split, **opts)
        out = ctx.run.run_dir / "reports" / ctx.name
        if ctx.is_main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        if c.plots:
            self._plots(ctx, targets, metrics, out)
        return {"metrics": metrics, "artifacts": {}}

    def _plots(self, ctx: StageContext, nets: dict[str, nn.Module],
               metrics: dict[str, Any], out: Any) -> None:
        """CMC curves of every network and a rank list of the first one, per dataset (PNG)."""
        from reid_eval import pairwise_distance, plot_cmc, plot_ranklist
        from reid_runner.evaluation import eval_splits

        for dname in self.cfg.eval_on:
            key = f"{dname}/{self.cfg.split}"
            if key not in metrics:
                continue
            slug = key.replace("/", "_")
            if ctx.is_main:
                curves = {n: m for n, m in metrics[key].items() if m.get("cmc")}
                if curves:
                    plot_cmc(curves, out / f"cmc_{slug}.png", title=f"CMC {key}")
            query, gallery = eval_splits(ctx.dataset(dname), self.cfg.split)
            if len(query) * len(gallery) > 4_000_000:  # rank lists are for small test sets
                continue
            name, net = next(iter(nets.items()))
            feats = ctx.extract(net, query + gallery, flip=self.cfg.flip)
            if ctx.is_main:
                dist = pairwise_distance(feats[: len(query)], feats[len(query):])
                plot_ranklist(dist.numpy(), query, gallery, out / f"ranklist_{slug}_{name}.png")

    def models(self) -> dict[str, nn.Module]:
        return dict(getattr(self, "_nets", {}))


def _Ensemble(nets: list[nn.Module]) -> Any:
    """A module whose eval features are the normalised concatenation of ``nets``' features."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Ensemble(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.members = nn.ModuleList(nets)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([F.normalize(m(x).float(), dim=1) for m in self.members], 1)

    return Ensemble()
