"""Errors raised by the plugin kernel. Every message names the plugin, hook or name at fault."""

from __future__ import annotations

from collections.abc import Iterable


class PluginError(Exception):
    """Base class of every plugin-kernel error."""


class PluginLoadError(PluginError):
    """A named plugin (or core package) could not be imported or registered."""

    def __init__(self, plugin: str, cause: BaseException | str) -> None:
        self.plugin = plugin
        detail = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        super().__init__(f'Error importing plugin "{plugin}": {detail}')


class PluginValidationError(PluginError):
    """A plugin implements a hook that no spec declares, or with a wrong signature."""


class DuplicateNameError(PluginError):
    """Two registrations (classes or entry points) claim the same name."""


class UnknownNameError(PluginError, ValueError):
    """A name (dataset, backbone, plugin, ...) is not registered; the message lists the choices."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.choices = sorted(choices)
        listed = ", ".join(self.choices) if self.choices else "(none registered)"
        hint = _closest(name, self.choices)
        extra = f" Did you mean {hint!r}?" if hint else ""
        super().__init__(f"Unknown {kind} {name!r}.{extra} Choices: {listed}")


class UnknownPluginError(UnknownNameError):
    """A run names a plugin for which no entry point in group ``reid`` is installed."""

    def __init__(self, name: str, choices: Iterable[str]) -> None:
        super().__init__("plugin", name, choices)


def _closest(name: str, choices: list[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return match[0] if match else None
