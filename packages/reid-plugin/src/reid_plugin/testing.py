"""Helpers for the tests of core packages and plugins (contract checks, meta-tests).

Plugin authors use these in their own suites, e.g.::

    def test_discovery():
        assert_plugin_discoverable("myplugin")
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pluggy

from reid_plugin._markers import PROJECT
from reid_plugin.manager import make_plugin_manager


def hook_functions(spec_module: ModuleType) -> dict[str, object]:
    """The hook specs a module declares, by name (functions marked with ``reid_plugin.hookspec``)."""
    marker = f"{PROJECT}_spec"
    return {
        name: fn
        for name, fn in vars(spec_module).items()
        if callable(fn) and hasattr(fn, marker) and name.startswith("reid_")
    }


def hook_signature(fn: object) -> str:
    """``name(arg1, arg2)``: the form in which a hook appears in a hook reference."""
    params = ", ".join(inspect.signature(fn).parameters)  # type: ignore[arg-type]
    return f"{fn.__name__}({params})"  # type: ignore[attr-defined]


def hook_reference(spec_module: ModuleType) -> str:
    """Markdown hook reference generated from a spec module (signature, then docstring)."""
    parts = []
    for _name, fn in hook_functions(spec_module).items():
        doc = inspect.cleandoc(fn.__doc__ or "")
        parts.append(f"### `{hook_signature(fn)}`\n\n{doc}\n")
    return "\n".join(parts)


def assert_hooks_documented(spec_module: ModuleType, reference_text: str) -> None:
    """Every hook of ``spec_module`` appears in ``reference_text`` with its exact signature."""
    missing = [
        hook_signature(fn)
        for fn in hook_functions(spec_module).values()
        if f"`{hook_signature(fn)}`" not in reference_text
    ]
    assert not missing, f"hooks missing from the hook reference: {missing}"


def assert_hooks_have_docstrings(spec_module: ModuleType) -> None:
    """Every hook spec documents its caller, returns and rank contract."""
    for name, fn in hook_functions(spec_module).items():
        doc = fn.__doc__ or ""
        assert "Rank contract" in doc, f"{name}: docstring lacks a 'Rank contract' section"
        assert "versionadded" in doc, f"{name}: docstring lacks '.. versionadded::'"


def assert_hooks_tested(spec_module: ModuleType, test_dir: Path) -> None:
    """Every hook has a test function named ``test_hook_<name>`` somewhere under ``test_dir``."""
    text = "\n".join(p.read_text() for p in Path(test_dir).rglob("test_*.py"))
    missing = [n for n in hook_functions(spec_module) if f"def test_hook_{n}" not in text]
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"


def assert_plugin_discoverable(name: str) -> pluggy.PluginManager:
    """Build a manager with plugin ``name`` only; it registers, validates and implements a hook."""
    pm = make_plugin_manager([name])
    plugin = pm.get_plugin(name)
    assert plugin is not None, f"plugin {name!r} was not registered"
    assert pm.get_hookcallers(plugin), f"plugin {name!r} implements no hook"
    pm.check_pending()
    return pm


def build_wheel(project_dir: Path, out_dir: Path) -> Path:
    """Build a wheel of ``project_dir`` with hatchling (no network, no isolation)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    code = (
        "import os, sys; from hatchling.build import build_wheel; "
        f"os.chdir({str(project_dir)!r}); print(build_wheel({str(out_dir)!r}))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"building {project_dir} failed:\n{res.stderr}")
    return out_dir / res.stdout.strip().splitlines()[-1]


def install_wheel(wheel: Path, target: Path) -> None:
    """Install a pure-Python wheel into ``target`` (a directory to put on ``sys.path``)."""
    res = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
         "--target", str(target), str(wheel)],
        capture_output=True, text=True,
    )
    if res.returncode != 0:  # pip absent: a pure wheel installs by unpacking it
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(target)
