"""Hook specifications of reid-runner: training methods and the run lifecycle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reid_plugin import hookspec

if TYPE_CHECKING:
    pass

# --------------------------------------------------------------------------- registration


@hookspec
def reid_register_methods() -> list[type[Any]]:
    """Return training/evaluation method classes (unique ``name``: ``pretrain``, ``mmt``, ...).

    Who calls it and when: the runner's preflight, when it resolves the ``method`` of each stage
    of a run, before any data is loaded.

    :returns: a list of classes (may be empty); duplicate names are an error naming both.

    Rank contract:
        every rank (each rank rebuilds its manager from the run's plugin names).

    .. versionadded:: 0.1
    """
