from __future__ import annotations

import subprocess
import sys

MODULES = ["reid_data", "reid_data.base", "reid_data._parse", "reid_data.datasets",
           "reid_data.datasets.market", "reid_data.datasets.msmt", "reid_data.datasets.visda",
           "reid_data.datasets.crossmodal", "reid_data.datasets.folder", "reid_data.registry",
           "reid_data.samplers", "reid_data.loaders", "reid_data.transforms",
           "reid_data.imagedata", "reid_data.cli", "reid_data.builtins", "reid_data.hookspecs",
           "reid_data.testing"]


def test_modules_import_cleanly_with_warnings_as_errors() -> None:
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in MODULES)
    res = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr


def test_hookspecs_and_builtins_do_not_import_torch() -> None:
    code = ("import sys, reid_plugin, importlib.util\n"
            "spec = importlib.util.spec_from_file_location('hs', "
            "importlib.util.find_spec('reid_data').submodule_search_locations[0] + "
            "'/hookspecs.py')\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "assert 'torch' not in sys.modules, 'hookspecs imported torch'\n")
    res = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
