"""Built-in registrations of reid-runner, through the same hooks as third-party plugins."""

from __future__ import annotations

from typing import Any

from reid_plugin import hookimpl


@hookimpl
def reid_register_methods() -> list[type[Any]]:
    from reid_runner.methods import Evaluate, Pretrain

    return [Pretrain, Evaluate]
