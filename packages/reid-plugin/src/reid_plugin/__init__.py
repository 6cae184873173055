"""reid-plugin: the plugin kernel shared by every reid distribution."""

from reid_plugin._markers import CORE_GROUP as CORE_GROUP
from reid_plugin._markers import PLUGIN_GROUP as PLUGIN_GROUP
from reid_plugin._markers import hookimpl as hookimpl
from reid_plugin._markers import hookspec as hookspec
from reid_plugin._version import __version__ as __version__
from reid_plugin.errors import DuplicateNameError as DuplicateNameError
from reid_plugin.errors import PluginError as PluginError
from reid_plugin.errors import PluginLoadError as PluginLoadError
from reid_plugin.errors import PluginValidationError as PluginValidationError
from reid_plugin.errors import UnknownNameError as UnknownNameError
from reid_plugin.errors import UnknownPluginError as UnknownPluginError
from reid_plugin.manager import PluginInfo as PluginInfo
from reid_plugin.manager import core_packages as core_packages
from reid_plugin.manager import describe_plugins as describe_plugins
from reid_plugin.manager import installed_plugins as installed_plugins
from reid_plugin.manager import load_plugin as load_plugin
from reid_plugin.manager import make_plugin_manager as make_plugin_manager
from reid_plugin.registry import Registry as Registry
