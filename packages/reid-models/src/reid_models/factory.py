"""Registries built from the hooks; the timm-style factories ``create_model``, ``create_loss``."""

from __future__ import annotations

import inspect
import os
from typing import TYPE_CHECKING, Any

from reid_plugin import Registry, make_plugin_manager

if TYPE_CHECKING:
    import pluggy
    from torch import nn

    from reid_models.backbones.base import Backbone
    from reid_models.model import ReidModel

#: Options of :class:`reid_models.heads.ReidHead`, accepted by every architecture.
HEAD_OPTIONS = ("pooling", "gem_p", "gem_learnable", "embed_dim", "dropout", "classifier",
                "scale", "margin")


def _pm(pm: pluggy.PluginManager | None) -> pluggy.PluginManager:
    return make_plugin_manager() if pm is None else pm


def backbone_registry(pm: pluggy.PluginManager | None = None) -> Registry[Backbone]:
    """Backbones registered through ``reid_register_backbones`` (core-only manager if None)."""
    return Registry.from_hook(_pm(pm), "reid_register_backbones", "backbone")


def loss_registry(pm: pluggy.PluginManager | None = None) -> Registry[nn.Module]:
    """Losses registered through ``reid_register_losses`` (core-only manager if None)."""
    return Registry.from_hook(_pm(pm), "reid_register_losses", "loss")


def list_models(pm: pluggy.PluginManager | None = None) -> list[str]:
    """Sorted ``arch`` names accepted by :func:`create_model`."""
    return backbone_registry(pm).names()


def list_losses(pm: pluggy.PluginManager | None = None) -> list[str]:
    """Sorted loss names accepted by :func:`create_loss`."""
    return loss_registry(pm).names()


def _params(fn: Any) -> list[str]:
    return [n for n, p in inspect.signature(fn).parameters.items()
            if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def create_backbone(arch: str, pm: pluggy.PluginManager | None = None,
                    **options: Any) -> Backbone:
    """Build the backbone ``arch`` alone (``None`` options are dropped)."""
    cls = backbone_registry(pm).get(arch)
    options = {k: v for k, v in options.items() if v is not None}
    allowed = _params(cls.__init__)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"backbone {arch!r} got unknown options {unknown}; "
                        f"valid: {sorted(allowed)}")
    return cls(**options)


def create_model(arch: str, num_classes: int = 0,
                 pretrained: str | os.PathLike[str] | bool | None = None,
                 pm: pluggy.PluginManager | None = None, **options: Any) -> ReidModel:
    """Build a re-ID model: the backbone ``arch`` plus a head.

    Args:
        arch: a registered backbone name (see :func:`list_models`); unknown names raise
            ``UnknownNameError`` listing the choices.
        num_classes: classifier rows (0 = no classifier).
        pretrained: ``None``/``False`` (random init), ``"imagenet"``/``True`` (local cache
            only, never downloaded), or a path to a weights file (IBN-Net ``.pth.tar``, a
            plain state dict, our checkpoint with a ``"model"``/``"state_dict"`` key).
        pm: plugin manager whose backbones to use (a core-only manager when None).
        **options: backbone options (e.g. ``last_stride``, ``stem_relu``, ``non_local``), head
            options (``pooling``, ``gem_p``, ``gem_learnable``, ``embed_dim``, ``dropout``,
            ``classifier``, ``scale``, ``margin``), model options (``normalize_eval``,
            ``eval_feature``, ``num_parts`` for part models) and ``strict`` (raise when the
            weights do not match exactly). ``None`` values are dropped, timm-style.

    Returns:
        the model (``model.load_report`` tells what the weights loading did).
    """
    from reid_models.weights import load_weights

    options = {k: v for k, v in options.items() if v is not None}
    strict = bool(options.pop("strict", False))
    cls = backbone_registry(pm).get(arch)
    model_cls = cls.model_class()
    bb_names = set(_params(cls.__init__))
    from reid_models.model import ReidModel

    model_names = (set(_params(model_cls.__init__)) | set(_params(ReidModel.__init__))
                   | set(HEAD_OPTIONS)) - {
        "backbone", "num_classes", "options", "head_options"}
    unknown = sorted(set(options) - bb_names - model_names)
    if unknown:
        raise TypeError(f"create_model({arch!r}) got unknown options {unknown}; valid: "
                        f"{sorted(bb_names | model_names | {'strict'})}")
    backbone = cls(**{k: v for k, v in options.items() if k in bb_names})
    model = model_cls(backbone, num_classes,
                      **{k: v for k, v in options.items() if k not in bb_names})
    if pretrained is None or pretrained is False:
        return model
    if pretrained is True or pretrained == "imagenet":
        from reid_models.weights import find_imagenet_file

        path = find_imagenet_file(backbone)
        load_weights(model, path, strict=strict, name=f"{arch} ImageNet ({path})")
    elif isinstance(pretrained, (str, os.PathLike)):
        load_weights(model, pretrained, strict=strict)
    else:
        raise TypeError(f"pretrained must be None, 'imagenet' or a file path, got {pretrained!r}")
    return model


def create_loss(name: str, pm: pluggy.PluginManager | None = None, **options: Any) -> nn.Module:
    """Build the loss registered as ``name`` (``None`` options are dropped)."""
    cls = loss_registry(pm).get(name)
    options = {k: v for k, v in options.items() if v is not None}
    allowed = _params(cls.__init__)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"loss {name!r} got unknown options {unknown}; valid: {sorted(allowed)}")
    return cls(**options)
