"""Hook specifications of the plugin kernel itself.

These hooks concern plugins in general, not any one core package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reid_plugin._markers import hookspec

if TYPE_CHECKING:
    import pluggy

# --------------------------------------------------------------------------- plugin set-up


@hookspec(historic=True)
def reid_addhooks(pluginmanager: pluggy.PluginManager) -> None:
    """Add new hook specifications owned by a plugin (e.g. mmt-plus extending mmt).

    Who calls it and when: the manager factory (:func:`reid_plugin.make_plugin_manager`), as a
    historic call right after the core specs are added, so a plugin registered later still
    receives it at registration time. Implementations call
    ``pluginmanager.add_hookspecs(module)``.

    :param pluginmanager: the manager being built.
    :returns: nothing.

    Rank contract:
        every rank (each rank builds its own manager from the same plugin names).

    .. versionadded:: 0.1
    """
