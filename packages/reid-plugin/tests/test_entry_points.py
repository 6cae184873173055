"""Third-party distributions: built as wheels, installed, discovered through entry points."""

from __future__ import annotations

import json

SPECS = '''
from reid_plugin import hookspec

@hookspec
def reid_register_widgets():
    """Return widget classes."""
'''

GOOD = '''
from reid_plugin import hookimpl
from . import specs

@hookimpl
def reid_addhooks(pluginmanager):
    pluginmanager.add_hookspecs(specs)

@hookimpl
def reid_register_widgets():
    from .widgets import Sprocket
    return [Sprocket]
'''

WIDGETS = '''
class Sprocket:
    name = "sprocket"
    def spin(self):
        return 42
'''


def test_third_party_plugin_discovered_and_usable(site) -> None:
    site.install("reid-widgets", "reid_widgets", {"widgets": "reid_widgets.hooks"},
                 {"__init__.py": "", "hooks.py": GOOD, "specs.py": SPECS, "widgets.py": WIDGETS})
    res = site.run('''
        from reid_plugin import make_plugin_manager, Registry, installed_plugins
        names = [r.name for r in installed_plugins()]
        assert "widgets" in names, names
        pm = make_plugin_manager(["widgets"])
        reg = Registry.from_hook(pm, "reid_register_widgets", "widget")
        print(reg.names(), reg.create("sprocket").spin())
    ''')
    assert res.returncode == 0, res.stderr
    assert "['sprocket'] 42" in res.stdout


def test_unnamed_installed_plugin_is_not_imported(site) -> None:
    site.install("reid-boom", "reid_boom", {"boom": "reid_boom.hooks"},
                 {"__init__.py": "", "hooks.py": "raise RuntimeError('imported!')\n"})
    res = site.run('''
        import sys
        from reid_plugin import make_plugin_manager
        make_plugin_manager([])
        assert "reid_boom.hooks" not in sys.modules
        print("ok")
    ''')
    assert res.returncode == 0, res.stderr


def test_broken_plugin_error_names_it(site) -> None:
    site.install("reid-boom", "reid_boom", {"boom": "reid_boom.hooks"},
                 {"__init__.py": "", "hooks.py": "import not_a_module_xyz\n"})
    res = site.run('''
        from reid_plugin import make_plugin_manager, PluginLoadError, describe_plugins
        try:
            make_plugin_manager(["boom"])
        except PluginLoadError as exc:
            print("ERR", exc)
        info = [i for i in describe_plugins() if i.name == "boom"][0]
        print("LISTED", info.error is not None)
    ''')
    assert res.returncode == 0, res.stderr
    assert 'ERR Error importing plugin "boom": ModuleNotFoundError' in res.stdout
    assert "LISTED True" in res.stdout


def test_blocked_plugin_never_imported(site) -> None:
    site.install("reid-boom", "reid_boom", {"boom": "reid_boom.hooks"},
                 {"__init__.py": "", "hooks.py": "raise RuntimeError('imported!')\n"})
    res = site.run('''
        import sys
        from reid_plugin import make_plugin_manager
        pm = make_plugin_manager(["boom"], blocked=["boom"])
        assert "reid_boom.hooks" not in sys.modules and pm.is_blocked("boom")
        print("ok")
    ''')
    assert res.returncode == 0, res.stderr


def test_misspelled_hook_in_distribution(site) -> None:
    site.install("reid-typo", "reid_typo", {"typo": "reid_typo.hooks"},
                 {"__init__.py": "",
                  "hooks.py": "from reid_plugin import hookimpl\n\n@hookimpl\n"
                              "def reid_addhoks(pluginmanager):\n    pass\n"})
    res = site.run('''
        from reid_plugin import make_plugin_manager, PluginValidationError
        try:
            make_plugin_manager(["typo"])
        except PluginValidationError as exc:
            print("ERR", exc)
    ''')
    assert "ERR" in res.stdout and "reid_addhoks" in res.stdout, res.stdout + res.stderr


def test_duplicate_entry_point_names_both_distributions(site) -> None:
    for dist, mod in (("reid-dup-one", "reid_dup_one"), ("reid-dup-two", "reid_dup_two")):
        site.install(dist, mod, {"dup": f"{mod}.hooks"}, {"__init__.py": "", "hooks.py": ""})
    res = site.run('''
        from reid_plugin import make_plugin_manager, DuplicateNameError
        try:
            make_plugin_manager(["dup"])
        except DuplicateNameError as exc:
            print("ERR", exc)
    ''')
    assert "reid-dup-one" in res.stdout and "reid-dup-two" in res.stdout, res.stdout + res.stderr


def test_describe_plugins_json_shape(site) -> None:
    site.install("reid-widgets", "reid_widgets", {"widgets": "reid_widgets.hooks"},
                 {"__init__.py": "", "hooks.py": GOOD, "specs.py": SPECS, "widgets.py": WIDGETS})
    res = site.run('''
        import json
        from reid_plugin import describe_plugins
        print(json.dumps([i.as_dict() for i in describe_plugins()]))
    ''')
    assert res.returncode == 0, res.stderr
    infos = {i["name"]: i for i in json.loads(res.stdout)}
    w = infos["widgets"]
    assert w["distribution"] == "reid-widgets" and w["version"] == "0.0.1"
    assert w["hooks"] == ["reid_addhooks", "reid_register_widgets"]
    assert infos["reid-plugin"]["kind"] == "core"
