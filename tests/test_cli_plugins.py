from __future__ import annotations

import json
import subprocess
import sys


def test_reid_plugins_json_lists_core_builtins() -> None:
    res = subprocess.run([sys.executable, "-m", "reid_runner", "plugins", "--json"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    infos = {p["name"]: p for p in json.loads(res.stdout)["plugins"]}
    for core, hook in (("reid-data", "reid_register_datasets"),
                       ("reid-models", "reid_register_backbones"),
                       ("reid-cluster", "reid_register_clusterers"),
                       ("reid-eval", "reid_register_protocols"),
                       ("reid-runner", "reid_register_methods")):
        assert core in infos, infos.keys()
        assert set(infos[core]) >= {"name", "distribution", "version", "hooks"}
        assert infos[core]["distribution"] == core
        assert hook in infos[core]["hooks"], (core, infos[core]["hooks"])


def test_reid_plugins_table() -> None:
    res = subprocess.run([sys.executable, "-m", "reid_runner", "plugins"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].split()[:4] == ["NAME", "KIND", "DISTRIBUTION", "VERSION"]
    assert "reid-data" in res.stdout
