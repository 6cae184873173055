"""plugins/_template is a working plugin: built as a wheel, installed, discovered and used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reid_plugin.testing import build_wheel, install_wheel

TEMPLATE = Path(__file__).resolve().parents[1] / "plugins" / "_template"


def test_template_plugin_builds_installs_and_passes_its_test(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_wheel(build_wheel(TEMPLATE, tmp_path / "dist"), site)
    res = subprocess.run(
        [sys.executable, "-c",
         f"import sys; sys.path.insert(0, {str(site)!r}); import pytest; "
         f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {str(TEMPLATE / 'tests')!r}]))"],
        capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "1 passed" in res.stdout
