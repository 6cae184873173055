"""Built-in registrations of reid-eval, through the same hooks as third-party plugins."""

from __future__ import annotations

from typing import Any

from reid_plugin import hookimpl


@hookimpl
def reid_register_protocols() -> list[type[Any]]:
    from reid_eval.crossmodal import RegdbProtocol, SysuProtocol
    from reid_eval.protocols import MarketProtocol, VisdaProtocol

    return [MarketProtocol, VisdaProtocol, SysuProtocol, RegdbProtocol]
