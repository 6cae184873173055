"""Hooks-only entry point of the ``pplr`` plugin."""

from __future__ import annotations

from reid_plugin import hookimpl


@hookimpl
def reid_register_methods():
    from reid_pplr.method import PPLR

    return [PPLR]


@hookimpl
def reid_register_losses():
    from reid_pplr.losses import AALSLoss, PGLRLoss

    return [PGLRLoss, AALSLoss]


@hookimpl
def reid_demo_rows(demo):
    from reid_pplr.demo import demo_rows

    return demo_rows(demo)
