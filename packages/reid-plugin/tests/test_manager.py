from __future__ import annotations

import types

import pluggy
import pytest

from reid_plugin import (
    DuplicateNameError,
    PluginValidationError,
    Registry,
    UnknownNameError,
    UnknownPluginError,
    hookimpl,
    hookspec,
    make_plugin_manager,
)


class _Specs:
    @hookspec
    def reid_register_things(self):  # pragma: no cover - spec
        """spec"""


def _plugin(name: str, **hooks: object) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(__name__=name, **hooks)
    return ns


def _adder(spec: object) -> object:
    @hookimpl
    def reid_addhooks(pluginmanager: pluggy.PluginManager) -> None:
        pluginmanager.add_hookspecs(spec)

    return _plugin("adder", reid_addhooks=reid_addhooks)


class Alpha:
    name = "alpha"


class Beta:
    name = "beta"


def test_manager_has_kernel_spec_and_no_autoload() -> None:
    pm = make_plugin_manager()
    assert hasattr(pm.hook, "reid_addhooks")
    # nothing of group "reid" is imported when no plugin is named
    assert all(not n.startswith("reid-") or n in {c for c in pm.list_name_plugin()[0]}
               for n, _ in pm.list_name_plugin())


def test_unknown_plugin_lists_choices() -> None:
    with pytest.raises(UnknownPluginError) as err:
        make_plugin_manager(["definitely-not-installed"])
    assert "definitely-not-installed" in str(err.value)
    assert "Choices:" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_misspelled_hook_fails_check_pending() -> None:
    @hookimpl
    def reid_regster_things():  # typo
        return []

    with pytest.raises(PluginValidationError) as err:
        make_plugin_manager([_plugin("typo", reid_regster_things=reid_regster_things)])
    assert "reid_regster_things" in str(err.value)


def test_hook_reid_addhooks_historic_and_registry() -> None:
    @hookimpl
    def reid_register_things():
        return [Alpha, Beta]

    pm = make_plugin_manager([_adder(_Specs),
                              _plugin("things", reid_register_things=reid_register_things)])
    reg: Registry[object] = Registry.from_hook(pm, "reid_register_things", "thing")
    assert reg.names() == ["alpha", "beta"]
    assert isinstance(reg.create("alpha"), Alpha)
    assert reg.origin("beta") == "things"
    with pytest.raises(UnknownNameError) as err:
        reg.get("alpah")
    assert "Did you mean 'alpha'" in str(err.value)
    assert "alpha, beta" in str(err.value)


def test_registry_duplicate_names_both_classes() -> None:
    class Alpha2:
        name = "alpha"

    @hookimpl
    def reid_register_things():
        return [Alpha]

    def other():
        return [Alpha2]

    other_impl = hookimpl(other)
    other_impl.__name__ = "reid_register_things"
    pm = make_plugin_manager([
        _adder(_Specs),
        _plugin("one", reid_register_things=reid_register_things),
        _plugin("two", reid_register_things=other_impl),
    ])
    with pytest.raises(DuplicateNameError) as err:
        Registry.from_hook(pm, "reid_register_things", "thing")
    msg = str(err.value)
    assert "Alpha2" in msg and "test_manager.Alpha" in msg and "one" in msg and "two" in msg


def test_registry_rejects_unnamed_class() -> None:
    class NoName:
        pass

    @hookimpl
    def reid_register_things():
        return [NoName]

    pm = make_plugin_manager([_adder(_Specs), _plugin("bad", reid_register_things=reid_register_things)])
    with pytest.raises(PluginValidationError, match='Plugin "bad"'):
        Registry.from_hook(pm, "reid_register_things", "thing")


def test_wrong_hook_signature_names_plugin() -> None:
    @hookimpl
    def reid_addhooks(pluginmanager, extra):  # extra arg not in the spec
        return None

    with pytest.raises(PluginValidationError, match='"sig"'):
        make_plugin_manager([_plugin("sig", reid_addhooks=reid_addhooks)])
