from __future__ import annotations

from reid_plugin.testing import assert_plugin_discoverable


def test_discovery() -> None:
    pm = assert_plugin_discoverable("mmt")
    from reid_plugin import Registry

    methods = Registry.from_hook(pm, "reid_register_methods", "method")
    assert {"mmt", "cluster-baseline", "pretrain"} <= set(methods.names())
    assert methods.origin("mmt") == "mmt"
