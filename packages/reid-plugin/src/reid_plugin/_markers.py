"""Hook markers and entry-point group names shared by every reid distribution."""

from __future__ import annotations

import pluggy

PROJECT = "reid"
#: Entry-point group of plugin distributions (``mmt``, ``pplr``, third-party methods).
PLUGIN_GROUP = "reid"
#: Entry-point group of core packages. The value names an importable package that has a
#: ``hookspecs`` module and, optionally, a ``builtins`` hooks-only module.
CORE_GROUP = "reid.core"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
