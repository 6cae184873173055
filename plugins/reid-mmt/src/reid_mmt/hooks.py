"""Hooks-only entry point of the ``mmt`` plugin."""

from __future__ import annotations

from reid_plugin import hookimpl


@hookimpl
def reid_register_methods():
    from reid_mmt.methods import MMT, ClusterBaseline

    return [MMT, ClusterBaseline]


@hookimpl
def reid_demo_rows(demo):
    from reid_mmt.demo import demo_rows

    return demo_rows(demo)
