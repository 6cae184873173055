"""The plugin manager factory and the discovery of installed plugins.

The manager is never built at import time and never kept in a module global: callers build one
with :func:`make_plugin_manager` and pass it along. In a distributed run every rank builds its own
from the same plugin *names* (a manager cannot cross process boundaries).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from reid_plugin import hookspecs as _kernel_specs
from reid_plugin._markers import CORE_GROUP, PLUGIN_GROUP, PROJECT
from reid_plugin.errors import (
    DuplicateNameError,
    PluginLoadError,
    PluginValidationError,
    UnknownPluginError,
)


@dataclass(frozen=True)
class EntryPointRecord:
    """One installed entry point of group ``reid`` or ``reid.core``."""

    name: str
    value: str
    group: str
    distribution: str
    version: str


def _records(group: str) -> list[EntryPointRecord]:
    seen: set[tuple[str, str, str]] = set()
    out: list[EntryPointRecord] = []
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        dname = dist.metadata["Name"] if dist is not None else "?"
        version = dist.version if dist is not None else "?"
        key = (ep.name, ep.value, dname)
        if key in seen:  # the same distribution reachable twice on sys.path
            continue
        seen.add(key)
        out.append(EntryPointRecord(ep.name, ep.value, group, dname, version))
    return sorted(out, key=lambda r: (r.name, r.distribution))


def core_packages() -> list[EntryPointRecord]:
    """Installed core packages (entry-point group ``reid.core``), sorted by name."""
    records = _records(CORE_GROUP)
    _raise_on_duplicates(records, "core package")
    return records


def installed_plugins() -> list[EntryPointRecord]:
    """Installed plugin distributions (entry-point group ``reid``), sorted by name."""
    return _records(PLUGIN_GROUP)


def _raise_on_duplicates(records: Iterable[EntryPointRecord], kind: str) -> None:
    by_name: dict[str, list[EntryPointRecord]] = {}
    for r in records:
        by_name.setdefault(r.name, []).append(r)
    for name, recs in by_name.items():
        if len(recs) > 1:
            culprits = " and ".join(f"{r.distribution} {r.version} ({r.value})" for r in recs)
            raise DuplicateNameError(f"{kind} name {name!r} is declared by {culprits}")


def _import(plugin: str, module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except Exception as exc:  # any failure while importing a plugin is reported with its name
        raise PluginLoadError(plugin, exc) from exc


def _register(pm: pluggy.PluginManager, obj: object, name: str) -> None:
    try:
        pm.register(obj, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginValidationError(f'Plugin "{name}" is invalid: {exc}') from exc
    except ValueError as exc:  # pluggy: name already registered / plugin blocked
        raise DuplicateNameError(f'Plugin "{name}" cannot be registered: {exc}') from exc


def _load_core(pm: pluggy.PluginManager) -> None:
    cores = core_packages()
    for rec in cores:
        specs = _import(rec.name, f"{rec.value}.hookspecs")
        if specs is not _kernel_specs:  # the kernel's own specs are added by the factory
            pm.add_hookspecs(specs)
    pm.hook.reid_addhooks.call_historic(kwargs={"pluginmanager": pm})
    for rec in cores:
        mod_name = f"{rec.value}.builtins"
        if importlib.util.find_spec(mod_name) is None:
            continue
        _register(pm, _import(rec.name, mod_name), rec.name)


def load_plugin(pm: pluggy.PluginManager, name: str) -> ModuleType:
    """Import the entry point ``name`` of group ``reid`` and register it under that name.

    :raises UnknownPluginError: no installed distribution declares ``name``; lists the choices.
    :raises DuplicateNameError: two distributions declare ``name``; names both.
    :raises PluginLoadError: the module failed to import; the message names the plugin.
    """
    records = installed_plugins()
    matches = [r for r in records if r.name == name]
    if not matches:
        raise UnknownPluginError(name, {r.name for r in records})
    _raise_on_duplicates(matches, "plugin")
    module = _import(name, matches[0].value)
    _register(pm, module, name)
    return module


def make_plugin_manager(
    plugins: Sequence[str | object] = (),
    *,
    blocked: Iterable[str] = (),
) -> pluggy.PluginManager:
    """Build a plugin manager: specs, built-ins, then the named plugins in order.

    Steps (fixed): add the kernel's and every installed core package's hook specs; register the
    core packages' built-ins; block ``blocked`` names *before* anything is imported; load each
    entry in ``plugins`` in order (a string is an entry-point name of group ``reid``; any other
    object is registered directly, which tests and notebooks use); call ``check_pending()`` so a
    misspelled hook name fails loudly.

    Nothing is auto-loaded: a plugin that is installed but not named is never imported.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(_kernel_specs)
    for name in blocked:
        pm.set_blocked(name)
    _load_core(pm)
    for entry in plugins:
        if isinstance(entry, str):
            if pm.is_blocked(entry):
                continue
            load_plugin(pm, entry)
        else:
            label = getattr(entry, "reid_plugin_name", None) or getattr(entry, "__name__", None)
            _register(pm, entry, str(label or repr(entry)))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginValidationError(
            f"{exc} (hook names must match a spec exactly; see the hook reference)"
        ) from exc
    return pm


@dataclass
class PluginInfo:
    """What ``reid plugins`` reports for one plugin or core package."""

    name: str
    distribution: str
    version: str
    kind: str  # "core" or "plugin"
    hooks: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "kind": self.kind,
            "hooks": self.hooks,
        }
        if self.error is not None:
            out["error"] = self.error
        return out


def describe_plugins() -> list[PluginInfo]:
    """Every installed core package and plugin with the hooks it implements.

    Informational: a plugin that fails to import or validate is listed with its error instead
    of raising (a training run, by contrast, is strict).
    """
    infos: list[PluginInfo] = []
    try:
        base = make_plugin_manager()
    except Exception as exc:  # a broken core package: report it, keep listing the others
        infos.append(PluginInfo("(core)", "?", "?", "core", error=str(exc)))
        base = None
    for rec in core_packages():
        hooks: list[str] = []
        if base is not None and base.get_plugin(rec.name) is not None:
            hooks = sorted(h.name for h in base.get_hookcallers(base.get_plugin(rec.name)) or [])
        infos.append(PluginInfo(rec.name, rec.distribution, rec.version, "core", hooks))
    for rec in installed_plugins():
        info = PluginInfo(rec.name, rec.distribution, rec.version, "plugin")
        try:
            pm = make_plugin_manager([rec.name])
            plugin = pm.get_plugin(rec.name)
            info.hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        except Exception as exc:
            info.error = str(exc)
        infos.append(info)
    return infos
