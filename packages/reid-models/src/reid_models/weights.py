"""Reading weight files and loading them into models, with a report of every key not loaded.

Nothing is ever downloaded. ``pretrained="imagenet"`` looks in the local torch hub checkpoint
directory (torchvision and IBN-Net files) or the Hugging Face cache (timm files). Missing,
unexpected and shape-mismatched keys are reported (returned, logged, and raised with
``strict=True``); keys a backbone declares it does not use (the ImageNet ``fc``) are reported
as *ignored*. The official code's silent skipping hid wrong checkpoints (METHODS §12.3).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from reid_models.errors import (
    PretrainedWeightsNotFoundError,
    WeightsFormatError,
    WeightsMismatchError,
)

if TYPE_CHECKING:
    from reid_models.backbones.base import Backbone

log = logging.getLogger("reid_models.weights")

#: Keys that wrap a state dict inside a checkpoint, tried in this order.
WRAPPER_KEYS = ("model", "state_dict", "model_state_dict", "net")


@dataclass
class LoadReport:
    """What :func:`load_weights` did with each key."""

    source: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is missing, unexpected or mismatched."""
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self, limit: int = 10) -> str:
        def show(keys: list[Any]) -> str:
            more = f" ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
            return ", ".join(str(k) for k in keys[:limit]) + more

        parts = [f"{self.source}: loaded {len(self.loaded)} tensors"]
        if self.missing:
            parts.append(f"missing {len(self.missing)} [{show(self.missing)}]")
        if self.unexpected:
            parts.append(f"unexpected {len(self.unexpected)} [{show(self.unexpected)}]")
        if self.mismatched:
            mm = [f"{k}: file {tuple(a)} vs model {tuple(b)}" for k, a, b in self.mismatched]
            parts.append(f"shape-mismatched {len(mm)} [{show(mm)}]")
        if self.ignored:
            parts.append(f"ignored {len(self.ignored)} [{show(self.ignored)}]")
        return "; ".join(parts)


def _strip_module(state: Mapping[str, Any]) -> dict[str, Any]:
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a state dict from ``path`` (``torch.load(weights_only=True)`` or safetensors).

    Unwraps checkpoints that keep it under ``"model"``/``"state_dict"`` (official IBN-Net
    ``.pth.tar`` files, our checkpoints) and strips DataParallel ``module.`` prefixes.

    :raises PretrainedWeightsNotFoundError: the file does not exist (names it).
    :raises WeightsFormatError: the file is not a state dict (names it and says why).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise PretrainedWeightsNotFoundError(f"file {str(p)!r}", p.name, str(p.parent))
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return _strip_module(load_file(str(p)))
    try:
        obj: Any = torch.load(p, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise WeightsFormatError(
            f"Cannot read weights file {str(p)!r} with torch.load(weights_only=True): {exc}"
        ) from exc
    for _ in range(3):  # nested wrappers, e.g. {"model": {"state_dict": ...}}
        if isinstance(obj, Mapping) and not all(isinstance(v, Tensor) for v in obj.values()):
            inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, Mapping):
        raise WeightsFormatError(f"Weights file {str(p)!r} holds a {type(obj).__name__}, "
                                 "not a state dict")
    bad = [k for k, v in obj.items() if not isinstance(v, Tensor)]
    if bad:
        raise WeightsFormatError(
            f"Weights file {str(p)!r} is not a state dict: entries {bad[:5]} are not tensors "
            f"(a checkpoint should keep its weights under one of {WRAPPER_KEYS})"
        )
    return _strip_module(obj)


def _hf_cache_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("HF_HUB_CACHE"):
        dirs.append(Path(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HF_HOME"):
        dirs.append(Path(os.environ["HF_HOME"]) / "hub")
    dirs.append(Path.home() / ".cache" / "huggingface" / "hub")
    return dirs


def torch_hub_checkpoint_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (where torchvision keeps its downloads)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_imagenet_file(backbone: type[Backbone] | Backbone) -> Path:
    """The local ImageNet weights file of a backbone; never downloads.

    Looks for ``backbone.imagenet_files`` in the torch hub checkpoint directory; for timm
    backbones (``hub_name``) also in the Hugging Face cache and for ``<model>.safetensors`` in
    the torch hub checkpoint directory.

    :raises PretrainedWeightsNotFoundError: naming the file expected and the directory.
    """
    ckpt_dir = torch_hub_checkpoint_dir()
    for name in backbone.imagenet_files:
        if (ckpt_dir / name).is_file():
            return ckpt_dir / name
    if backbone.hub_name:
        folder = "models--" + backbone.hub_name.replace("/", "--")
        for cache in _hf_cache_dirs():
            for fname in ("model.safetensors", "pytorch_model.bin"):
                hits = sorted((cache / folder / "snapshots").glob(f"*/{fname}"))
                if hits:
                    return hits[-1]
        local = backbone.hub_name.split("/")[-1] + ".safetensors"
        if (ckpt_dir / local).is_file():
            return ckpt_dir / local
        raise PretrainedWeightsNotFoundError(
            f"{backbone.name!r} (ImageNet, timm {backbone.hub_name})", local, str(ckpt_dir),
            hint=f"A Hugging Face cache entry {folder}/snapshots/<rev>/model.safetensors under "
                 f"{_hf_cache_dirs()[0]} is found too.",
        )
    if not backbone.imagenet_files:
        raise PretrainedWeightsNotFoundError(
            f"{backbone.name!r} (ImageNet)", "<no known ImageNet file>", str(ckpt_dir),
            hint="This backbone declares no ImageNet weights; pass pretrained=<path>.",
        )
    raise PretrainedWeightsNotFoundError(
        f"{backbone.name!r} (ImageNet)", backbone.imagenet_files[0], str(ckpt_dir),
        hint=f"Accepted names: {', '.join(backbone.imagenet_files)}.",
    )


def find_imagenet_state_dict(backbone: Backbone) -> dict[str, Tensor]:
    return read_state_dict(find_imagenet_file(backbone))


def _compare(state: Mapping[str, Tensor], target: Mapping[str, Tensor], scope: set[str],
             report: LoadReport, is_ignored: Any) -> dict[str, Tensor]:
    accepted: dict[str, Tensor] = {}
    for k, v in state.items():
        if k not in target:
            (report.ignored if is_ignored(k) else report.unexpected).append(k)
        elif tuple(v.shape) != tuple(target[k].shape):
            report.mismatched.append((k, tuple(v.shape), tuple(target[k].shape)))
        else:
            accepted[k] = v
    for k in sorted(scope - set(state)):
        # Checkpoints from before PyTorch 0.4 have no BN batch counters; BN starts them at 0.
        (report.ignored if k.endswith("num_batches_tracked") else report.missing).append(k)
    report.loaded = sorted(accepted)
    return accepted


def load_weights(model: nn.Module, source: str | os.PathLike[str] | Mapping[str, Tensor],
                 strict: bool = False, name: str | None = None) -> LoadReport:
    """Load weights into a :class:`ReidModel` or a bare :class:`Backbone`; report every key.

    Which part is loaded is decided from the keys: a state dict with ``backbone.*`` keys is a
    whole-model checkpoint (ours); otherwise it is backbone-level (ImageNet, IBN-Net, AGW/MMGL
    files) and is first passed through ``backbone.convert_state_dict``. Only tensors whose name
    and shape match are copied.

    :returns: a :class:`LoadReport`, also stored as ``model.load_report`` and logged.
    :raises WeightsMismatchError: with ``strict=True``, when anything is missing, unexpected or
        shape-mismatched.
    """
    from reid_models.backbones.base import Backbone

    label = name or (str(source) if not isinstance(source, Mapping) else "<state dict>")
    state = _strip_module(source) if isinstance(source, Mapping) else read_state_dict(source)
    report = LoadReport(label)
    backbone: Backbone = model if isinstance(model, Backbone) else model.backbone  # type: ignore
    target = model.state_dict()
    prefix = "" if model is backbone else "backbone."
    if prefix and any(k.startswith("backbone.") for k in state):
        accepted = _compare(state, target, set(target), report,
                            lambda k: backbone.is_ignored(k[len(prefix):]))
    else:
        converted = backbone.convert_state_dict(dict(state))
        mapped: dict[str, Tensor] = {}
        for k, v in converted.items():
            if k.startswith("head.") and prefix:
                mapped[k] = v
            else:
                mapped[prefix + k] = v
        scope = {k for k in target if k.startswith(prefix)} if prefix else set(target)
        if prefix and any(k.startswith("head.") for k in mapped):
            scope |= {k for k in target if k.startswith("head.")}
        accepted = _compare(mapped, target, scope, report,
                            lambda k: backbone.is_ignored(k[len(prefix):]))
    model.load_state_dict(accepted, strict=False)
    model.load_report = report  # type: ignore[assignment]
    if report.ok:
        log.info("Loaded weights %s", report.summary())
    else:
        log.warning("Loaded weights with problems: %s", report.summary())
    if strict and not report.ok:
        raise WeightsMismatchError(f"strict loading failed: {report.summary(limit=20)}")
    return report
