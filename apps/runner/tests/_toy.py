"""A tiny method for engine tests: a 2-layer conv net, CE loss, fake pseudo labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from reid_data import Market1501, Sample
from reid_plugin import hookimpl
from reid_runner import Method, MethodConfig


class TinyNet(nn.Module):
    arch = "tiny"

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x: torch.Tensor) -> Any:
        f = F.adaptive_avg_pool2d(F.relu(self.bn(self.conv(x))), 1).flatten(1)
        if not self.training:
            return F.normalize(f, dim=1)
        return {"pooled": f, "logits": self.fc(f)}


@dataclass
class ToyConfig(MethodConfig):
    epochs: int = 2
    iters: int = 2
    lr: float = 0.01


class Toy(Method):
    name = "toy"
    Config = ToyConfig

    def build(self, ctx: Any) -> None:
        src = ctx.dataset("source")
        self.net = TinyNet(src.num_train_pids).to(ctx.device)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=self.cfg.lr, momentum=0.9)
        self.labels: list[int] = []

    def epoch_start(self, ctx: Any, epoch: int) -> None:
        src = ctx.dataset("source")
        self.labels = [s.pid for s in src.train]
        ctx.report_pseudo_labels(torch.tensor(self.labels),
                                 {"clusters": len(set(self.labels)), "outliers": 0})

    def data(self, ctx: Any, epoch: int) -> dict[str, Any]:
        from reid_data import build_train_transform

        d = ctx.config.data
        src = ctx.dataset("source")
        tf = build_train_transform(d.height, d.width, random_erasing=0.5)
        return {"source": ctx.stream("source", src.train, tf, pids=self.labels)}

    def train_step(self, ctx: Any, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        out = ctx.gather(ctx.forward(self.net, batch["source"]["image"]))
        y = ctx.gather(batch["source"]["pid"])
        loss = F.cross_entropy(out["logits"], y)
        return {"loss": loss}

    def models(self) -> dict[str, nn.Module]:
        return {"model": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"sgd": self.opt}

    def state_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.labels = list(state["labels"])


class ToyPlugin:
    """Registers the toy method and records every lifecycle hook call."""

    reid_plugin_name = "toy-plugin"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    @hookimpl
    def reid_register_methods(self) -> list[type]:
        return [Toy]

    @hookimpl
    def reid_run_start(self, run: Any) -> None:
        self.calls.append(("reid_run_start", {"run": run}))

    @hookimpl
    def reid_run_finish(self, run: Any, summary: dict[str, Any]) -> None:
        self.calls.append(("reid_run_finish", {"summary": summary}))

    @hookimpl
    def reid_stage_start(self, ctx: Any) -> None:
        self.calls.append(("reid_stage_start", {"stage": ctx.name}))

    @hookimpl
    def reid_stage_finish(self, ctx: Any, result: dict[str, Any]) -> None:
        self.calls.append(("reid_stage_finish", {"stage": ctx.name, "result": result}))

    @hookimpl
    def reid_epoch_start(self, ctx: Any, epoch: int) -> None:
        self.calls.append(("reid_epoch_start", {"epoch": epoch}))

    @hookimpl
    def reid_epoch_finish(self, ctx: Any, epoch: int, metrics: dict[str, Any]) -> None:
        self.calls.append(("reid_epoch_finish", {"epoch": epoch, "metrics": metrics}))

    @hookimpl
    def reid_iteration_start(self, ctx: Any, epoch: int, iteration: int) -> None:
        self.calls.append(("reid_iteration_start", {"epoch": epoch, "iteration": iteration}))

    @hookimpl
    def reid_iteration_finish(self, ctx: Any, epoch: int, iteration: int,
                              losses: dict[str, float]) -> None:
        self.calls.append(("reid_iteration_finish", {"epoch": epoch, "iteration": iteration,
                                                     "losses": losses}))

    @hookimpl
    def reid_pseudo_labels_finish(self, ctx: Any, epoch: int, labels: Any,
                                  telemetry: dict[str, Any]) -> None:
        self.calls.append(("reid_pseudo_labels_finish", {"epoch": epoch, "labels": labels,
                                                         "telemetry": telemetry}))

    @hookimpl
    def reid_evaluation_finish(self, ctx: Any, epoch: int, dataset: str, model: str,
                               metrics: dict[str, Any]) -> None:
        self.calls.append(("reid_evaluation_finish", {"epoch": epoch, "dataset": dataset,
                                                      "model": model, "metrics": metrics}))


# --------------------------------------------------------------------------- model selection


class StripeNet(nn.Module):
    """Eval feature: ``[alpha * mean colour of the top third, (1 - alpha) * of the bottom]``.

    ``alpha`` is a buffer (saved with the weights): 1 looks only at the top stripe, 0 only at the
    bottom one. A linear classifier on the feature is what training changes.
    """

    arch = "stripes"

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("alpha", torch.tensor(0.5))
        self.fc = nn.Linear(6, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = x.shape[2]
        top = x[:, :, : h // 3].mean((2, 3))
        bottom = x[:, :, 2 * h // 3:].mean((2, 3))
        return torch.cat([self.alpha * top, (1 - self.alpha) * bottom], 1)

    def forward(self, x: torch.Tensor) -> Any:
        f = self.features(x)
        if not self.training:
            return F.normalize(f, dim=1)
        return {"pooled": f, "logits": self.fc(f)}


@dataclass
class ScriptedConfig(MethodConfig):
    epochs: int = 3
    iters: int = 1
    #: ``StripeNet.alpha`` after each epoch: which stripe the evaluated network looks at.
    alphas: list[float] = field(default_factory=lambda: [0.0, 1.0, 0.5])


class Scripted(Toy):
    """Trains a classifier, but the eval feature after epoch ``e`` is fixed by ``alphas[e]``."""

    name = "scripted"
    Config = ScriptedConfig
    cfg: ScriptedConfig

    def build(self, ctx: Any) -> None:
        src = ctx.dataset("source")
        self.net = StripeNet(src.num_train_pids).to(ctx.device)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.01)
        self.labels = []

    def epoch_start(self, ctx: Any, epoch: int) -> None:
        self.labels = [s.pid for s in ctx.dataset("source").train]

    def epoch_end(self, ctx: Any, epoch: int) -> None:
        self.net.alpha.fill_(self.cfg.alphas[epoch])


class StripesVal(Market1501):
    """Market-1501 layout plus a labelled validation split (``val_query``/``val_gallery``, see
    ``_synthetic.write_stripes``), published through :meth:`validation`."""

    name = "stripes_val"
    keys = ()
    expected_stats = None

    def load(self) -> None:
        super().load()
        self._val = (self._parse("val_query"), self._parse("val_gallery"))

    def validation(self) -> tuple[list[Sample], list[Sample]] | None:
        return self._val


class SelectionPlugin:
    """Registers the ``scripted`` method and the ``stripes_val`` dataset; records evaluations."""

    reid_plugin_name = "selection-plugin"

    def __init__(self) -> None:
        self.evaluations: list[tuple[int, str, float]] = []

    @hookimpl
    def reid_register_methods(self) -> list[type]:
        return [Scripted]

    @hookimpl
    def reid_register_datasets(self) -> list[type]:
        return [StripesVal]

    @hookimpl
    def reid_evaluation_finish(self, ctx: Any, epoch: int, dataset: str, model: str,
                               metrics: dict[str, Any]) -> None:
        self.evaluations.append((epoch, dataset, metrics["mAP"]))
