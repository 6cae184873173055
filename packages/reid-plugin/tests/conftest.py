from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reid_plugin.testing import build_wheel, install_wheel


def make_distribution(root: Path, dist: str, module: str, entry_points: dict[str, str],
                      files: dict[str, str], group: str = "reid") -> Path:
    """Write a throwaway distribution source tree (hatchling) and return its folder."""
    proj = root / dist
    (proj / "src" / module).mkdir(parents=True)
    eps = "\n".join(f'{k} = "{v}"' for k, v in entry_points.items())
    (proj / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "{dist}"
        version = "0.0.1"
        [project.entry-points."{group}"]
        """) + eps + f'\n[tool.hatch.build.targets.wheel]\npackages = ["src/{module}"]\n')
    for name, text in files.items():
        (proj / "src" / module / name).write_text(textwrap.dedent(text))
    return proj


@pytest.fixture
def site(tmp_path: Path):
    """A directory to install throwaway wheels into, and a runner for code that sees them."""
    target = tmp_path / "site"
    target.mkdir()

    class Site:
        path = target

        def install(self, dist: str, module: str, entry_points: dict[str, str],
                    files: dict[str, str], group: str = "reid") -> None:
            proj = make_distribution(tmp_path / "src", dist, module, entry_points, files, group)
            install_wheel(build_wheel(proj, tmp_path / "dist"), target)

        def run(self, code: str) -> subprocess.CompletedProcess[str]:
            env_code = f"import sys; sys.path.insert(0, {str(target)!r})\n" + textwrap.dedent(code)
            return subprocess.run([sys.executable, "-c", env_code], capture_output=True, text=True)

    return Site()
