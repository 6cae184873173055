"""Dataset registries built from a plugin manager (a core-only manager when ``pm`` is None)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from reid_plugin import Registry, make_plugin_manager

if TYPE_CHECKING:
    import pluggy

    from reid_data.base import ReidDataset


def dataset_registry(pm: pluggy.PluginManager | None = None) -> Registry[ReidDataset]:
    """Every dataset class registered through ``reid_register_datasets``, by name.

    :raises reid_plugin.DuplicateNameError: two classes share a name (both are named).
    """
    if pm is None:
        pm = make_plugin_manager()
    return Registry.from_hook(pm, "reid_register_datasets", "dataset")


def list_datasets(pm: pluggy.PluginManager | None = None) -> list[str]:
    """Sorted names of the registered datasets."""
    return dataset_registry(pm).names()


def create_dataset(
    name: str, root: str | Path, pm: pluggy.PluginManager | None = None, **options: Any
) -> ReidDataset:
    """Load dataset ``name`` from ``root`` (any of the three root conventions).

    :raises reid_plugin.UnknownNameError: ``name`` is not registered; the message lists choices.
    :raises reid_data.DatasetLayoutError: the expected folder or file is missing.
    """
    return dataset_registry(pm).create(name, root, **options)
