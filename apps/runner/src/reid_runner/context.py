"""What methods and hooks see of a run: :class:`RunInfo` and the per-stage :class:`StageContext`."""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from reid_runner import _dist
from reid_runner._hooks import RunnerHooks
from reid_runner._streams import Stream, derive_seed

if TYPE_CHECKING:
    import pluggy

    from reid_runner.config import MethodConfig, RunConfig
    from reid_runner.evaluation import Forward
    from reid_runner.method import Method
    from reid_runner.output import Recorder


@dataclass
class RunInfo:
    """One process's view of a run (passed to ``reid_run_start`` / ``reid_run_finish``)."""

    config: RunConfig
    run_dir: Path
    world: _dist.World
    device: torch.device
    pm: pluggy.PluginManager
    log: logging.Logger
    recorder: Recorder
    #: Artifacts published so far: ``"<stage>.<name>" -> path``.
    artifacts: dict[str, str] = field(default_factory=dict)
    _datasets: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    #: The runner's hooks on ``pm``, typed and keyword-only (what the engine calls).
    hooks: RunnerHooks = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.hooks = RunnerHooks(self.pm)

    def dataset(self, name: str, options: dict[str, Any] | None = None) -> Any:
        """Load (once per process) the dataset ``name`` from ``data.root``.

        ``source`` and ``target`` name the configured datasets (with their options).
        """
        from reid_data import create_dataset

        d = self.config.data
        root = d.root
        if name in ("source", "target"):
            options = dict(d.source_options if name == "source" else d.target_options)
            root = (d.source_root if name == "source" else d.target_root) or d.root
            real = d.source if name == "source" else d.target
            if not real:
                raise ValueError(f"data.{name} is not set but a stage needs the {name} dataset")
            name = real
        opts = dict(options or {})
        key = (name, root, repr(sorted(opts.items())))
        if key not in self._datasets:
            self._datasets[key] = create_dataset(name, root, pm=self.pm, **opts)
        return self._datasets[key]


class StageContext:
    """Everything a method needs while it runs one stage.

    Attributes: ``run`` (:class:`RunInfo`), ``config`` (the whole :class:`RunConfig`),
    ``stage`` (the stage's validated method config), ``name`` (stage name), ``method`` (the
    method instance), ``pm``, ``hooks`` (the runner's hooks, typed), ``world`` (rank/size), ``device``, ``stage_dir``, ``log``,
    ``inputs`` (role -> resolved file path), ``seed``, ``epoch`` and ``iteration`` (0-based, of
    the step being run), ``amp`` (``None``, ``torch.bfloat16`` or ``torch.float16``).
    """

    def __init__(self, run: RunInfo, name: str, stage: MethodConfig, stage_dir: Path,
                 inputs: dict[str, Path]) -> None:
        self.run = run
        self.config = run.config
        self.name = name
        self.stage = stage
        self.stage_dir = stage_dir
        self.inputs = inputs
        self.pm = run.pm
        self.hooks = run.hooks
        self.world = run.world
        self.device = run.device
        self.log = run.log
        self.seed = stage.seed if stage.seed is not None else run.config.run.seed
        self.method: Method | None = None
        self.epoch = 0
        self.iteration = 0
        amp = run.config.run.amp if run.device.type == "cuda" else "none"
        self.amp: torch.dtype | None = {"none": None, "bf16": torch.bfloat16,
                                        "fp16": torch.float16}[amp]
        self._streams: list[Stream] = []

    # ------------------------------------------------------------------ basics
    @property
    def is_main(self) -> bool:
        return self.world.is_main

    @property
    def global_step(self) -> int:
        """``epoch * iters + iteration``: the step count used by EMA schedules and logs."""
        return self.epoch * self.stage.iters + self.iteration

    def dataset(self, name: str, options: dict[str, Any] | None = None) -> Any:
        """A dataset by role (``source``/``target``) or name; see :meth:`RunInfo.dataset`."""
        return self.run.dataset(name, options)

    def input_path(self, role: str) -> Path:
        """The file given for input ``role``; a clear error when the stage config lacks it."""
        try:
            return self.inputs[role]
        except KeyError:
            raise KeyError(
                f"stage {self.name!r} needs input {role!r}: set stages.{self.name}.inputs.{role} "
                f"to an artifact (e.g. pretrain.model) or a file path"
            ) from None

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Mixed precision on GPU when ``run.amp`` asks for it; a no-op otherwise."""
        if self.amp is None:
            yield
        else:
            with torch.autocast(self.device.type, dtype=self.amp):
                yield

    # ------------------------------------------------------------------ networks
    def create_model(self, num_classes: int, pretrained: Any = None, *, arch: str | None = None,
                     **options: Any) -> nn.Module:
        """A ``reid_models.create_model`` network from the ``model`` section, on the device.

        ``arch`` overrides ``model.arch`` (e.g. a method that builds the part variant
        ``resnet50part`` of a ``resnet50`` run); ``model.options`` and ``options`` (which win)
        are passed on. ``pretrained=None`` means ImageNet weights when ``model.pretrained`` is
        true; ``False`` is a random initialisation, a path loads that file.
        """
        from reid_models import create_model

        m = self.config.model
        if pretrained is None:
            pretrained = "imagenet" if m.pretrained else None
        opts = {**m.options, **options}
        net = create_model(arch or m.arch, num_classes=num_classes, pretrained=pretrained,
                           pm=self.pm, **opts)
        return net.to(self.device)

    def forward(self, net: nn.Module, x: Any, *args: Any, **kwargs: Any) -> Any:
        """Forward the local batch ``x`` in BN groups of ``data.bn_batch`` images.

        Use this for every training-mode forward so results do not depend on the number of
        processes (see :mod:`reid_runner._dist`).
        """
        return _dist.forward_bn_groups(net, x, self._bn_group(x), *args, **kwargs)

    def _bn_group(self, x: Any) -> int:
        first = x[0] if isinstance(x, (list, tuple)) else x
        n_local = int(first.shape[0])
        bn = self.config.data.bn_batch
        if not bn:
            return n_local  # one BN group per process
        if n_local % bn:
            raise ValueError(
                f"stage {self.name!r}: the local batch of {n_local} images is not a multiple of "
                f"data.bn_batch={bn} (global batch / processes must be a multiple of it)"
            )
        return bn

    def gather(self, x: Any) -> Any:
        """Concatenate tensors over processes (differentiable); identity in one process."""
        return _dist.gather(x)

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's object on every rank (e.g. pseudo labels computed once)."""
        return _dist.broadcast_object(obj)

    # ------------------------------------------------------------------ data
    def stream(
        self,
        name: str,
        samples: Sequence[Any],
        transform: Any,
        *,
        identities: bool = True,
        batch_size: int | None = None,
        num_instances: int | None = None,
        pids: Sequence[int] | None = None,
        skip_negative_pids: bool = False,
    ) -> Stream:
        """A training stream over ``samples``: P x K identity batches, or plain shuffling.

        The global batch at ``(epoch, iteration)`` is the same for every world size; each rank
        loads its share. ``pids`` overrides the labels (pseudo labels). ``name`` keys the seed.
        """
        from reid_data import IdentityBatchSampler, ImageDataset, RandomBatchSampler

        d = self.config.data
        bs = batch_size or d.batch_size
        seed = derive_seed(self.seed, zlib.crc32(name.encode()))
        common = dict(seed=seed, rank=self.world.rank, world_size=self.world.size,
                      batches_per_epoch=max(self.stage.iters, 1))
        labelled = list(samples)
        if pids is not None:
            labelled = [
                s._replace(pid=int(p)) if hasattr(s, "_replace") else (s[0], int(p), *s[2:])
                for s, p in zip(samples, pids)
            ]
        if identities:
            sampler = IdentityBatchSampler(labelled, bs, num_instances or d.num_instances,
                                           skip_negative_pids=skip_negative_pids, **common)
        else:
            sampler = RandomBatchSampler(len(labelled), bs, **common)
        ds = ImageDataset(labelled, transform)
        st = Stream(name, ds, sampler, seed, d.workers, pin_memory=self.device.type == "cuda")
        self._streams.append(st)
        return st

    # ------------------------------------------------------------------ features and evaluation
    def extract(self, nets: nn.Module | Sequence[nn.Module], samples: Sequence[Any], *,
                flip: bool = False, normalize: bool = True, batch_size: int | None = None,
                forward: Forward | None = None) -> Any:
        """Eval-mode features of ``samples`` on every rank, sharded and gathered in order.

        Several ``nets`` give their concatenated L2-normalised features (an ensemble).
        ``forward(net, images)`` asks for other outputs of one network: when it returns a dict
        (e.g. a part model's ``{"global": g, "parts": p}`` from ``net.extract_all_features``),
        the result is a dict of gathered tensors. See :func:`reid_runner.evaluation.extract`.
        """
        from reid_runner.evaluation import extract

        return extract(self, nets, samples, flip=flip, normalize=normalize,
                       batch_size=batch_size, forward=forward)

    def evaluate(self, nets: dict[str, nn.Module], datasets: Sequence[str] | None = None,
                 split: str = "test", **options: Any) -> dict[str, dict[str, Any]]:
        """Evaluate each network on each dataset; logs, records and fires the hook.

        Returns ``{"<dataset>/<split>": {net_name: metrics}}``.
        """
        from reid_runner.engine import evaluate_nets

        return evaluate_nets(self, nets, datasets or self.stage.eval_on, split, **options)

    # ------------------------------------------------------------------ reporting
    def report_pseudo_labels(self, labels: Any, telemetry: dict[str, Any]) -> None:
        """Log this epoch's pseudo-label telemetry (log, metrics.jsonl, TensorBoard) and fire
        ``reid_pseudo_labels_finish``. Call on every rank after the labels were broadcast."""
        tel = {k: v for k, v in telemetry.items()}
        if self.is_main:
            parts = ", ".join(f"{k}={_fmt(v)}" for k, v in tel.items()
                              if isinstance(v, (int, float)) and not isinstance(v, bool))
            self.log.info("==> Statistics for epoch %d: %s", self.epoch, parts)
            self.run.recorder.write({"kind": "pseudo_labels", "stage": self.name,
                                     "epoch": self.epoch, **tel})
            self.run.recorder.scalars(f"{self.name}/pseudo_labels", tel, self.epoch)
        self.hooks.reid_pseudo_labels_finish(ctx=self, epoch=self.epoch, labels=labels,
                                             telemetry=tel)

    def log_scalars(self, values: dict[str, Any], prefix: str = "train") -> None:
        """Record numbers at the current global step (metrics.jsonl and TensorBoard; rank 0)."""
        if self.is_main:
            self.run.recorder.write({"kind": prefix, "stage": self.name, "epoch": self.epoch,
                                     "iteration": self.iteration, **values})
            self.run.recorder.scalars(f"{self.name}/{prefix}", values, self.global_step)

    def close_streams(self) -> None:
        for s in self._streams:
            s.close()
        self._streams.clear()


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
