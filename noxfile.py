"""Test sessions, one isolated virtualenv per distribution (found from the folder listing).

    python3 -m nox                 # every default session: each distribution, tests/, lint
    python3 -m nox -l              # list sessions
    python3 -m nox -s "dist(reid-data)"
    python3 -m nox -s demo         # install the runner and the plugins, run the demo

Each ``dist`` session holds only that distribution, the workspace distributions it declares, their
third-party dependencies and its ``test`` extra, so an undeclared import fails there. uv builds the
virtualenvs; the local wheel locations of pip's configuration (``pip config list``: find-links,
extra index URLs, constraints) are handed to uv at run time, so torch installs from disk where a
machine keeps it there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nox
import tomllib

ROOT = Path(__file__).parent
GROUPS = ("packages", "apps", "plugins")

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["dist", "tests", "lint"]


def _members() -> dict[str, Path]:
    """Distribution name -> folder, for every folder with a pyproject.toml (``_template`` aside)."""
    out: dict[str, Path] = {}
    for group in GROUPS:
        for pyproject in sorted((ROOT / group).glob("*/pyproject.toml")):
            if pyproject.parent.name.startswith("_"):
                continue
            name = tomllib.loads(pyproject.read_text())["project"]["name"]
            out[name] = pyproject.parent
    return out


MEMBERS = _members()


def _req_name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;@]", req, maxsplit=1)[0].strip().lower().replace("_", "-")


def _workspace_closure(name: str) -> list[Path]:
    """Folders of ``name`` and every workspace distribution it depends on, dependencies first."""
    seen: list[str] = []

    def visit(n: str) -> None:
        if n in seen:
            return
        deps = tomllib.loads((MEMBERS[n] / "pyproject.toml").read_text())["project"].get(
            "dependencies", []
        )
        for dep in deps:
            if _req_name(dep) in MEMBERS:
                visit(_req_name(dep))
        seen.append(n)

    visit(name)
    return [MEMBERS[n] for n in seen]


def _uv_env_from_pip_config() -> dict[str, str]:
    """Translate pip's configuration (local wheel folders, extra indexes, constraints) for uv."""
    try:
        text = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True, text=True, timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    conf: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        conf[key.split(".", 1)[-1].strip()] = value.strip().strip("'\"")
    env: dict[str, str] = {}
    if conf.get("find-links"):
        env["UV_FIND_LINKS"] = conf["find-links"].replace(" ", ",")
    if conf.get("index-url"):
        env["UV_DEFAULT_INDEX"] = conf["index-url"]
    if conf.get("extra-index-url"):
        env["UV_EXTRA_INDEX_URL"] = conf["extra-index-url"]
        # the same release may sit on a local index and on PyPI: take the best match anywhere
        env["UV_INDEX_STRATEGY"] = "unsafe-best-match"
    if conf.get("constraint") and Path(conf["constraint"]).is_file():
        env["UV_CONSTRAINT"] = conf["constraint"]
    return env


# Compile bytecode at install: many test processes start torch, and PYTHONDONTWRITEBYTECODE
# (set on some machines) would otherwise make each of them recompile it (~25 s per start).
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")

for _k, _v in _uv_env_from_pip_config().items():
    os.environ.setdefault(_k, _v)


def _install(session: nox.Session, names: list[str], extra: str | None = "test") -> None:
    folders: list[Path] = []
    for n in names:
        for f in _workspace_closure(n):
            if f not in folders:
                folders.append(f)
    targets = [str(f) for f in folders]
    if extra:
        targets = [f"{f}[{extra}]" if Path(f) in [MEMBERS[n] for n in names] else f for f in targets]
    session.install(*targets)


@nox.session(python="3.11")
@nox.parametrize("name", list(MEMBERS), ids=list(MEMBERS))
def dist(session: nox.Session, name: str) -> None:
    """One distribution alone: its declared dependencies and test extra, then its tests."""
    _install(session, [name])
    mod = name.replace("-", "_")
    session.run("python", "-W", "error", "-c", f"import {mod}")
    session.run("python", "-m", "pytest", str(MEMBERS[name] / "tests"), *session.posargs)
    # Optional extras (e.g. reid-cluster[faiss]): install each CPU-installable one and rerun
    # the tests that name it (they skip without it above, so both paths are exercised).
    for extra in _extras(name):
        session.install(f"{MEMBERS[name]}[{extra}]")
        session.run("python", "-m", "pytest", str(MEMBERS[name] / "tests"), "-k", extra,
                    *session.posargs)


def _extras(name: str) -> list[str]:
    """Optional extras of a distribution worth testing here (not ``test``, not GPU builds)."""
    extras = tomllib.loads((MEMBERS[name] / "pyproject.toml").read_text())["project"].get(
        "optional-dependencies", {})
    return [e for e in extras if e != "test" and "gpu" not in e]


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """Cross-package and end-to-end tests with every distribution installed."""
    _install(session, list(MEMBERS))
    session.install("faiss-cpu")
    session.run("python", "-m", "pytest", str(ROOT / "tests"), *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    session.install("ruff")
    session.run("ruff", "check", str(ROOT))


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    """Install the runner and every plugin, then run the main job: ``reid demo``."""
    _install(session, list(MEMBERS), extra=None)
    session.run("reid", *(session.posargs or ["demo"]))
