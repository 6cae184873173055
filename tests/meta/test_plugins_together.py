"""Every plugin of the workspace loads together with the core, and every registry builds
(no duplicate names across distributions)."""

from __future__ import annotations

import importlib

from reid_plugin import Registry, installed_plugins, make_plugin_manager
from reid_plugin.testing import hook_functions


def test_all_plugins_and_registries_together() -> None:
    names = [r.name for r in installed_plugins()]
    pm = make_plugin_manager(names)
    registries = {}
    for spec_mod in ("reid_data.hookspecs", "reid_models.hookspecs", "reid_cluster.hookspecs",
                     "reid_eval.hookspecs", "reid_runner.hookspecs"):
        for hook in hook_functions(importlib.import_module(spec_mod)):
            if hook.startswith("reid_register_"):
                registries[hook] = Registry.from_hook(pm, hook, hook[len("reid_register_"):])
    # every core package registers its built-ins through its own hooks
    assert "market1501" in registries["reid_register_datasets"]
    assert "resnet50" in registries["reid_register_backbones"]
    assert "dbscan" in registries["reid_register_clusterers"]
    assert "market" in registries["reid_register_protocols"]
    assert "pretrain" in registries["reid_register_methods"]
