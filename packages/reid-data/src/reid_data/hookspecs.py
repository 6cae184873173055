"""Hook specifications of reid-data.

The hooks reid-data calls to learn what datasets exist. The built-in datasets register through
these same hooks (``reid_data.builtins``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reid_plugin import hookspec

if TYPE_CHECKING:
    from reid_data.base import ReidDataset

# --------------------------------------------------------------------------- registration


@hookspec
def reid_register_datasets() -> list[type[ReidDataset]]:
    """Return dataset classes to register.

    Who calls it and when: :func:`reid_data.dataset_registry` whenever a dataset registry is built
    from a plugin manager (``reid data check``, the runner's preflight, ``create_dataset``).
    Each class subclasses :class:`reid_data.ReidDataset`, carries a unique ``name`` (the key users
    type, e.g. ``market1501``) and is constructed as ``cls(root, **options)``.

    :returns: a list of classes (may be empty). A duplicate ``name`` across plugins is an error
        naming both classes.

    Rank contract:
        every rank (registries are rebuilt per process; the hook must be pure and cheap).

    .. versionadded:: 0.1
    """
