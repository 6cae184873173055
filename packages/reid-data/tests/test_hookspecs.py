from __future__ import annotations

from pathlib import Path

import pytest

from reid_data import ReidDataset, create_dataset, dataset_registry, hookspecs, list_datasets
from reid_data.base import Layout, Sample
from reid_plugin import DuplicateNameError, hookimpl, make_plugin_manager
from reid_plugin.testing import (
    assert_hooks_documented,
    assert_hooks_have_docstrings,
    assert_hooks_tested,
)

PKG = Path(__file__).resolve().parents[1]


def _reference() -> str:
    text = (PKG / "README.md").read_text()
    assert "## Hook reference" in text
    return text.split("## Hook reference", 1)[1]


def test_hooks_documented_and_tested() -> None:
    assert_hooks_documented(hookspecs, _reference())
    assert_hooks_have_docstrings(hookspecs)
    assert_hooks_tested(hookspecs, Path(__file__).parent)


class ToyDataset(ReidDataset):
    name = "toy"
    layouts = (Layout("Toy", ("Toy",), ("imgs",)),)
    keys = ("toy",)

    def load(self) -> None:
        self.train = [Sample(str(p), 0, 0) for p in sorted((self.dataset_dir / "imgs").iterdir())]


class ToyPlugin:
    reid_plugin_name = "toy-plugin"

    @staticmethod
    @hookimpl
    def reid_register_datasets():
        return [ToyDataset]


class Clash(ReidDataset):
    name = "market1501"


class ClashPlugin:
    reid_plugin_name = "clash-plugin"

    @staticmethod
    @hookimpl
    def reid_register_datasets():
        return [Clash]


def test_hook_reid_register_datasets(tmp_path: Path) -> None:
    pm = make_plugin_manager()
    names = list_datasets(pm)
    for builtin in ("market1501", "dukemtmc", "dukemtmcreid", "msmt17", "veri776", "personx",
                    "visda2020", "sysu_mm01", "regdb", "folder"):
        assert builtin in names
    assert list_datasets() == names  # pm=None builds a core-only manager
    pm2 = make_plugin_manager([ToyPlugin])
    reg = dataset_registry(pm2)
    assert "toy" in reg and reg.origin("toy") == "toy-plugin"
    (tmp_path / "toy" / "Toy" / "imgs").mkdir(parents=True)
    (tmp_path / "toy" / "Toy" / "imgs" / "a.jpg").write_bytes(b"")
    ds = create_dataset("toy", tmp_path, pm=pm2)  # root/<key>/<Original> detected for plugins too
    assert len(ds.train) == 1
    with pytest.raises(DuplicateNameError, match="market1501"):
        dataset_registry(make_plugin_manager([ClashPlugin]))
