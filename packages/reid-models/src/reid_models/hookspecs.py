"""Hook specifications of reid-models.

The hooks reid-models calls to learn which backbones and losses exist. The built-in backbones and
losses register through these same hooks (``reid_models.builtins``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reid_plugin import hookspec

if TYPE_CHECKING:
    from torch import nn

    from reid_models.backbones.base import Backbone

# --------------------------------------------------------------------------- registration


@hookspec
def reid_register_backbones() -> list[type[Backbone]]:
    """Return backbone classes to register.

    Who calls it and when: :func:`reid_models.backbone_registry`, e.g. from
    :func:`reid_models.create_model` and the runner's preflight, whenever a registry is built.
    Each class carries a unique ``name`` (the ``arch`` users type, e.g. ``resnet50_ibn_a``) and
    builds its network as described by :class:`reid_models.backbones.base.Backbone`.

    :returns: a list of classes (may be empty); duplicate names are an error naming both.

    Rank contract:
        every rank (pure and cheap; no weights are loaded here).

    .. versionadded:: 0.1
    """


@hookspec
def reid_register_losses() -> list[type[nn.Module]]:
    """Return loss classes (``torch.nn.Module`` subclasses with a unique ``name``) to register.

    Who calls it and when: :func:`reid_models.loss_registry`, when a method builds its criteria
    by name (``create_loss(name, **options)``).

    :returns: a list of classes (may be empty); duplicate names are an error naming both.

    Rank contract:
        every rank (pure and cheap).

    .. versionadded:: 0.1
    """
