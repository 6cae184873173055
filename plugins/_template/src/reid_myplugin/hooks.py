"""Hooks-only module: the entry point. No work at import; import implementations inside hooks."""

from __future__ import annotations

from reid_plugin import hookimpl


@hookimpl
def reid_register_datasets():
    from reid_myplugin.datasets import MyDataset

    return [MyDataset]
