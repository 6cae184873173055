"""Class registries built from the results of ``reid_register_*`` hooks.

A registry is an instance, built from a plugin manager; there is no global registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

import pluggy

from reid_plugin.errors import DuplicateNameError, PluginValidationError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named classes collected from one registration hook.

    Each class carries a unique, non-empty ``name`` class attribute. A duplicate name raises
    :class:`DuplicateNameError` naming both classes, their modules and plugins; an unknown name
    raises :class:`UnknownNameError` listing the choices.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type[T]] = {}
        self._origin: dict[str, str] = {}

    @classmethod
    def from_hook(cls, pm: pluggy.PluginManager, hook_name: str, kind: str) -> Registry[T]:
        """Call ``hook_name`` on every plugin (in registration order) and collect the classes."""
        reg: Registry[T] = cls(kind)
        caller = getattr(pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            result = impl.function()
            if result is None:
                continue
            if isinstance(result, type):
                result = [result]
            for klass in result:
                reg.add(klass, plugin=impl.plugin_name)
        return reg

    def add(self, klass: type[T], plugin: str = "?") -> None:
        name = getattr(klass, "name", None)
        if not isinstance(klass, type) or not isinstance(name, str) or not name:
            raise PluginValidationError(
                f'Plugin "{plugin}" registered {klass!r} as a {self.kind}, but a registered '
                f"{self.kind} must be a class with a non-empty str `name` attribute"
            )
        if name in self._classes:
            old = self._classes[name]
            raise DuplicateNameError(
                f"{self.kind} name {name!r} is registered twice: "
                f"{old.__module__}.{old.__qualname__} (plugin {self._origin[name]}) and "
                f"{klass.__module__}.{klass.__qualname__} (plugin {plugin})"
            )
        self._classes[name] = klass
        self._origin[name] = plugin

    def names(self) -> list[str]:
        return sorted(self._classes)

    def get(self, name: str) -> type[T]:
        try:
            return self._classes[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._classes) from None

    def origin(self, name: str) -> str:
        """The plugin that registered ``name``."""
        self.get(name)
        return self._origin[name]

    def create(self, name: str, *args: Any, **kwargs: Any) -> T:
        return self.get(name)(*args, **kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._classes)
