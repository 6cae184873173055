from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from reid_data.cli import main
from reid_data.testing import make_msmt, touch


def test_check_json(market_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "market1501", "--root", str(market_root), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["dataset"] == "market1501" and rep["root"] == str(market_root)
    assert rep["splits"] == {"train": {"images": 6, "ids": 3, "cameras": 4},
                             "query": {"images": 2, "ids": 2, "cameras": 2},
                             "gallery": {"images": 5, "ids": 3, "cameras": 4}}
    assert rep["official"]["gallery"] == {"images": 15913, "ids": 751, "cameras": 6}
    assert rep["matches_official"] is False
    assert "gallery.images: found 5, official 15913" in rep["mismatches"]
    assert main(["check", "market1501", "--root", str(market_root), "--strict"]) == 1


def test_check_text(market_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "market1501", "--root", str(market_root)]) == 0
    out = capsys.readouterr().out
    assert "Market-1501-v15.09.15" in out and "MISMATCH" in out
    assert "12936/751/6" in out


def test_check_missing_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "dukemtmc", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "DukeMTMC-reID" in err and "bounding_box_train" in err
    assert "root/<Original>" in err and str(tmp_path / "dukemtmc" / "DukeMTMC-reID") in err
    assert main(["check", "dukemtmc", "--root", str(tmp_path), "--json"]) == 2
    rep = json.loads(capsys.readouterr().out)
    assert "DukeMTMC-reID" in rep["error"]


def test_check_msmt_list_file_and_version(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    d = make_msmt(tmp_path, "V2")
    assert main(["check", "msmt17", "--root", str(tmp_path), "-o", "version=v1"]) == 2
    assert "holds MSMT17_V2" in capsys.readouterr().err
    assert main(["check", "msmt17", "--root", str(tmp_path), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["layout"] == "MSMT17_V2" and any("MSMT17_V1" in n for n in rep["notes"])
    (d / "list_query.txt").unlink()
    assert main(["check", "msmt17", "--root", str(tmp_path)]) == 2
    assert "list_query.txt is missing" in capsys.readouterr().err


def test_check_unknown_dataset_and_option(market_root: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "market", "--root", str(market_root)]) == 2
    err = capsys.readouterr().err
    assert "Unknown dataset 'market'" in err and "market1501" in err
    assert main(["check", "market1501", "--root", str(market_root), "-o", "bad=1"]) == 2
    assert "unknown option" in capsys.readouterr().err
    assert main(["check"]) == 2  # usage error returns instead of exiting


def test_check_folder_without_cameras(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    touch(tmp_path / "train", ["p1/a.jpg", "p2/b.jpg"])
    assert main(["check", "folder", "--root", str(tmp_path), "--json",
                 "-o", r"pattern=p(?P<pid>\d+)/"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["has_camids"] is False and rep["official"] is None
    assert rep["splits"]["train"] == {"images": 2, "ids": 2, "cameras": 0}


def test_synth_wiring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    calls = []
    fake = types.ModuleType("reid_data.synth")
    fake.synthesize = lambda out, **kw: calls.append((out, kw)) or Path(out)  # type: ignore
    monkeypatch.setitem(sys.modules, "reid_data.synth", fake)
    assert main(["synth", "--out", str(tmp_path), "--style", "target", "--modality", "rgb-ir",
                 "--ids", "7", "--seed", "3"]) == 0
    assert calls == [(str(tmp_path), {"style": "target", "modality": "rgb-ir", "seed": 3,
                                      "ids": 7})]
    assert main(["synth", "--out", str(tmp_path)]) == 0
    assert calls[1][1] == {"style": "source", "modality": "rgb", "seed": 0}
    assert "wrote synthetic" in capsys.readouterr().out


def test_python_dash_m(market_root: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "reid_data", "check", "market1501", "--root",
                          str(market_root), "--json"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["splits"]["query"]["images"] == 2


def test_synth_then_check_roundtrip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--out", str(tmp_path), "--ids", "6", "--seed", "1"]) == 0
    capsys.readouterr()
    assert main(["check", "market1501", "--root", str(tmp_path), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["splits"]["train"]["images"] > 0 and rep["splits"]["query"]["images"] > 0


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--help", "-h"):
        assert main([flag]) == 0
        out = capsys.readouterr().out
        assert out.startswith("usage: reid data [-h] {list,check,synth} ...")
        for command, help_text in (("list", "list the registered datasets"),
                                   ("check", "compare with the"), ("synth", "synthetic")):
            assert f"    {command}" in out and help_text in out, command
        assert "reid data check market1501 --root" in out  # examples
    # a bare `reid data` is a usage error that still shows the commands
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "{list,check,synth}" in err and "list the registered datasets" in err
    assert main(["check", "--help"]) == 0
    assert "--root ROOT" in capsys.readouterr().out
    assert main(["nosuch"]) == 2
    assert "invalid choice: 'nosuch'" in capsys.readouterr().err
