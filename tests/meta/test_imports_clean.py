"""Every module of every workspace distribution imports in a fresh interpreter, with warnings as
errors, printing nothing and writing nothing (no work at import)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC_DIRS = sorted(
    p for group in ("packages", "apps", "plugins") for p in (ROOT / group).glob("*/src")
    if not p.parent.name.startswith("_")
)


def _modules(src: Path) -> list[str]:
    mods = []
    for f in sorted(src.rglob("*.py")):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods.append(".".join(parts))
    return mods


@pytest.mark.parametrize("src", SRC_DIRS, ids=[p.parent.name for p in SRC_DIRS])
def test_modules_import_cleanly(src: Path, tmp_path: Path) -> None:
    mods = _modules(src)
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in mods)
    res = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                         text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout == "" and res.stderr == "", (res.stdout + res.stderr)[-3000:]
    assert list(tmp_path.iterdir()) == [], "importing wrote files into the working directory"
