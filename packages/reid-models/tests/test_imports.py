"""Every module imports in a fresh interpreter with warnings as errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "reid_models"
MODULES = sorted(
    "reid_models" + ("." + ".".join(p.relative_to(SRC).with_suffix("").parts)
                     if p.name != "__init__.py" or p.parent != SRC else "")
    for p in SRC.rglob("*.py")
)
MODULES = [m.removesuffix(".__init__") for m in MODULES]


def test_imports_clean() -> None:
    code = "; ".join(f"import {m}" for m in MODULES)
    res = subprocess.run([sys.executable, "-W", "error", "-c", code],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_no_heavy_imports_at_package_import() -> None:
    code = ("import sys, reid_models; "
            "print(','.join(m for m in ('timm', 'torchvision', 'safetensors') "
            "if m in sys.modules))")
    res = subprocess.run([sys.executable, "-W", "error", "-c", code],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""
