"""The Method interface: what a training or evaluation method implements for the engine.

The engine owns devices, processes, AMP, backward and optimiser stepping, gradient averaging,
checkpoints, resume, logging, progress and the evaluation schedule. A method owns its networks,
per-epoch preparation, per-iteration losses and its state.

Call order for a training stage (every rank)::

    m = Method(cfg); m.build(ctx)                  # networks, optimisers, schedulers
    [engine restores a checkpoint here when resuming]
    for epoch in range(start, cfg.epochs):
        m.epoch_start(ctx, epoch)                  # pseudo labels, classifier re-init, optim reset
        streams = m.data(ctx, epoch)               # {name: ctx.stream(...)} from the method's state
        for it in range(start_it, cfg.iters):
            losses = m.train_step(ctx, {name: stream.next()})  # under autocast; "loss" = total
            [engine: backward, average gradients, step every optimiser in m.optimizers()]
            m.after_step(ctx)                      # EMA updates, queue updates
        m.epoch_end(ctx, epoch)                    # per-epoch schedulers
        [engine: scheduled evaluation of m.eval_models(), checkpoint]
    m.export(ctx)                                  # artifacts (default: eval_models -> .model)

On a resume in the middle of an epoch the engine calls ``build``, restores every network,
optimiser, scheduler and ``load_state_dict`` (which must bring back e.g. pseudo labels), then
``data(ctx, epoch)`` — not ``epoch_start`` — and positions the streams. Everything that
``data`` needs must therefore live in ``state_dict``.

A method without training (``evaluate``) sets ``trains = False`` and implements ``run(ctx)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from reid_runner.config import MethodConfig

if TYPE_CHECKING:
    import torch
    from torch import nn

    from reid_runner._streams import Stream
    from reid_runner.context import StageContext


class Method:
    """Base class of methods registered through ``reid_register_methods``."""

    #: The name stages use (``method: pretrain``).
    name: ClassVar[str] = ""
    #: The stage config dataclass (subclass of :class:`MethodConfig`).
    Config: ClassVar[type[MethodConfig]] = MethodConfig
    #: False for methods that only evaluate/convert (``run`` instead of the training loop).
    trains: ClassVar[bool] = True

    def __init__(self, cfg: MethodConfig) -> None:
        self.cfg = cfg

    # ------------------------------------------------------------------ building
    def build(self, ctx: StageContext) -> None:
        """Create networks (on ``ctx.device``), optimisers and schedulers; read ``ctx.inputs``."""

    def signature(self, ctx: StageContext) -> dict[str, Any]:
        """Identity stored in checkpoints; a resume with another signature is refused."""
        return {"method": self.name, "arch": ctx.config.model.arch}

    # ------------------------------------------------------------------ training
    def epoch_start(self, ctx: StageContext, epoch: int) -> None:
        """Per-epoch preparation (pseudo-labelling, classifier refresh, optimiser reset)."""

    def data(self, ctx: StageContext, epoch: int) -> dict[str, Stream]:
        """The training streams of this epoch, built from the method's state with ``ctx.stream``."""
        raise NotImplementedError(f"method {self.name!r} does not define data()")

    def train_step(self, ctx: StageContext, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Forward and losses of one iteration; return ``{"loss": total, ...parts}``."""
        raise NotImplementedError(f"method {self.name!r} does not define train_step()")

    def after_step(self, ctx: StageContext) -> None:
        """After the optimiser step (EMA teachers, memory queues)."""

    def epoch_end(self, ctx: StageContext, epoch: int) -> None:
        """After the last iteration of an epoch (per-epoch LR schedulers)."""

    # ------------------------------------------------------------------ state
    def models(self) -> dict[str, nn.Module]:
        """Every network to checkpoint (students and EMA teachers), by a stable name."""
        return {}

    def eval_models(self) -> dict[str, nn.Module]:
        """The networks evaluated and exported (MMT: the EMA teachers). Default: :meth:`models`."""
        return self.models()

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Optimisers the engine steps after each backward (may be re-created each epoch)."""
        return {}

    def schedulers(self) -> dict[str, Any]:
        """LR schedulers (checkpointed; the method steps them, usually in :meth:`epoch_end`)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Method state beyond networks/optimisers (pseudo labels, thresholds, queues).

        Tensors and plain containers only (checkpoints load with ``weights_only=True``).
        """
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    # ------------------------------------------------------------------ outputs
    def export(self, ctx: StageContext) -> dict[str, Path]:
        """Write the stage's artifacts; return ``{artifact_name: path}``.

        The default saves :meth:`eval_models` as ``model.pt`` (artifact ``<stage>.model``).
        """
        from reid_runner.engine import save_model_artifact

        return {"model": save_model_artifact(ctx, self.eval_models(), ctx.stage_dir / "model.pt")}

    def run(self, ctx: StageContext) -> dict[str, Any]:
        """For ``trains = False`` methods: do the work; return ``{"metrics": ...}``."""
        raise NotImplementedError(f"method {self.name!r} does not define run()")
