"""The ``reid`` command line: help texts and delegation to reid-data."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from reid_runner.cli import main


def test_reid_data_help(capsys: pytest.CaptureFixture[str]) -> None:
    # `reid data --help` used to be rejected by the runner's own parser
    for flag in ("--help", "-h"):
        assert main(["data", flag]) == 0
        out = capsys.readouterr().out
        assert out.startswith("usage: reid data [-h] {list,check,synth} ...")
        assert "list the registered datasets" in out and "reid data check" in out
    assert main(["data"]) == 2
    assert "{list,check,synth}" in capsys.readouterr().err
    assert main(["data", "synth", "--help"]) == 0
    assert "--out OUT" in capsys.readouterr().out
    assert main(["data", "list"]) == 0
    assert "market1501" in capsys.readouterr().out


def test_reid_data_help_from_the_console(tmp_path: Path) -> None:
    res = run_cli(["data", "--help"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "{list,check,synth}" in res.stdout and "unrecognized" not in res.stderr
    res = run_cli(["--help"], cwd=tmp_path)
    assert res.returncode == 0 and "reid data --help" in res.stdout
