"""Every runner hook is documented, has docstring sections and a test; each hook works."""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _toy import Toy, ToyPlugin

from reid_plugin import DuplicateNameError, hookimpl, make_plugin_manager
from reid_plugin.testing import (
    assert_hooks_documented,
    assert_hooks_have_docstrings,
    assert_hooks_tested,
    hook_functions,
)
from reid_runner import ConfigError, execute, hookspecs
from reid_runner._hooks import RunnerHooks
from reid_runner.run import method_registry, prepare

README = Path(__file__).parents[1] / "README.md"


def test_hooks_documented() -> None:
    text = README.read_text()
    assert "## Hook reference" in text
    assert_hooks_documented(hookspecs, text.split("## Hook reference", 1)[1])


def test_hooks_have_docstrings() -> None:
    assert_hooks_have_docstrings(hookspecs)


def test_hooks_tested() -> None:
    assert_hooks_tested(hookspecs, Path(__file__).parent)


def test_hook_facade_matches_the_specs() -> None:
    """``RunnerHooks`` has one method per hook spec: same name, same parameters, keyword-only."""
    specs = hook_functions(hookspecs)
    assert {n for n in vars(RunnerHooks) if n.startswith("reid_")} == set(specs)
    for name, fn in specs.items():
        params = list(inspect.signature(getattr(RunnerHooks, name)).parameters.values())[1:]
        assert [(p.name, p.kind) for p in params] == [
            (p, inspect.Parameter.KEYWORD_ONLY) for p in inspect.signature(fn).parameters], name
    hooks = RunnerHooks(make_plugin_manager([ToyPlugin()]))
    with pytest.raises(TypeError):
        hooks.reid_epoch_start(ctx=None, epcoh=0)  # type: ignore[call-arg]


def test_runner_calls_hooks_only_through_the_facade() -> None:
    src = Path(hookspecs.__file__).parent
    # demo.py collects reid_demo_rows itself (RunnerHooks.reid_demo_rows offers the same)
    direct = [f"{p.name}: {line.strip()}" for p in src.rglob("*.py")
              if p.name not in ("_hooks.py", "demo.py")
              for line in p.read_text().splitlines() if ".hook.reid_" in line]
    assert not direct, direct


# --------------------------------------------------------------------------- registration


def test_hook_reid_register_methods() -> None:
    pm = make_plugin_manager()
    reg = method_registry(pm)
    assert {"pretrain", "evaluate"} <= set(reg.names())
    pm = make_plugin_manager([ToyPlugin()])
    assert "toy" in method_registry(pm)

    class Dup:
        @hookimpl
        def reid_register_methods(self) -> list[type]:
            class Pretrain2(Toy):
                name = "pretrain"

            return [Pretrain2]

    with pytest.raises(DuplicateNameError, match="pretrain"):
        method_registry(make_plugin_manager([Dup()]))


@dataclass
class CamSection:
    weight: float = 0.1
    enabled: bool = True

    def validate(self, where: str) -> None:
        if self.weight < 0:
            raise ConfigError(f"{where}.weight must be >= 0")


class SectionPlugin:
    @hookimpl
    def reid_add_config_sections(self) -> dict[str, type]:
        return {"camera_sim": CamSection}


def test_hook_reid_add_config_sections(config: dict[str, Any]) -> None:
    raw = {**copy.deepcopy(config), "camera_sim": {"weight": 0.2}}
    prep = prepare(raw, [SectionPlugin()])
    assert prep.config.section("camera_sim").weight == 0.2
    assert "camera_sim" in prep.config.to_dict()
    with pytest.raises(ConfigError, match="Did you mean 'weight'"):
        prepare({**config, "camera_sim": {"wieght": 0.2}}, [SectionPlugin()])
    with pytest.raises(ConfigError, match="must be >= 0"):
        prepare({**config, "camera_sim": {"weight": -1}}, [SectionPlugin()])
    with pytest.raises(ConfigError, match="unknown config section 'camera_sim'"):
        prepare({**config, "camera_sim": {"weight": 0.2}})

    class Clash:
        @hookimpl
        def reid_add_config_sections(self) -> dict[str, type]:
            return {"data": CamSection}

    with pytest.raises(ConfigError, match="already defined"):
        prepare(config, [Clash()])


# --------------------------------------------------------------------------- lifecycle


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory, data_roots: dict[str, Path]) -> ToyPlugin:
    from conftest import base_config

    tmp = tmp_path_factory.mktemp("toy")
    raw = base_config(tmp, data_roots, "toy")
    raw["stages"] = {"toy": {"method": "toy", "epochs": 2, "iters": 2, "eval_on": ["source"]}}
    plugin = ToyPlugin()
    execute(raw, plugins=[plugin])
    return plugin


def _calls(plugin: ToyPlugin, name: str) -> list[dict[str, Any]]:
    return [kw for n, kw in plugin.calls if n == name]


def test_hook_reid_run_start(toy_run: ToyPlugin) -> None:
    assert toy_run.names()[0] == "reid_run_start"
    (call,) = _calls(toy_run, "reid_run_start")
    assert call["run"].config.run.name == "toy"


def test_hook_reid_run_finish(toy_run: ToyPlugin) -> None:
    assert toy_run.names()[-1] == "reid_run_finish"
    (call,) = _calls(toy_run, "reid_run_finish")
    assert "toy" in call["summary"]["stages"]


def test_hook_reid_stage_start(toy_run: ToyPlugin) -> None:
    assert _calls(toy_run, "reid_stage_start") == [{"stage": "toy"}]


def test_hook_reid_stage_finish(toy_run: ToyPlugin) -> None:
    (call,) = _calls(toy_run, "reid_stage_finish")
    assert "source/test" in call["result"]["metrics"]
    assert call["result"]["artifacts"]["model"].endswith("model.pt")


def test_hook_reid_epoch_start(toy_run: ToyPlugin) -> None:
    assert [c["epoch"] for c in _calls(toy_run, "reid_epoch_start")] == [0, 1]


def test_hook_reid_epoch_finish(toy_run: ToyPlugin) -> None:
    calls = _calls(toy_run, "reid_epoch_finish")
    assert [c["epoch"] for c in calls] == [0, 1]
    assert "loss" in calls[0]["metrics"]


def test_hook_reid_iteration_start(toy_run: ToyPlugin) -> None:
    its = [(c["epoch"], c["iteration"]) for c in _calls(toy_run, "reid_iteration_start")]
    assert its == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_hook_reid_iteration_finish(toy_run: ToyPlugin) -> None:
    calls = _calls(toy_run, "reid_iteration_finish")
    assert len(calls) == 4 and all(isinstance(c["losses"]["loss"], float) for c in calls)


def test_hook_reid_pseudo_labels_finish(toy_run: ToyPlugin) -> None:
    calls = _calls(toy_run, "reid_pseudo_labels_finish")
    assert [c["epoch"] for c in calls] == [0, 1]
    assert calls[0]["telemetry"]["clusters"] == 8


def test_hook_reid_evaluation_finish(toy_run: ToyPlugin) -> None:
    (call,) = _calls(toy_run, "reid_evaluation_finish")
    assert call["dataset"] == "source/test" and call["model"] == "model"
    assert 0.0 <= call["metrics"]["mAP"] <= 1.0


# --------------------------------------------------------------------------- demo


def test_hook_reid_demo_rows(tmp_path: Path) -> None:
    from reid_runner.demo import Demo, DemoRow, DemoSettings, collect_rows, compose

    class RowPlugin:
        @hookimpl
        def reid_demo_rows(self, demo: Demo) -> list[DemoRow]:
            stage = demo.stage("toy", inputs={"init": demo.init["1"]})
            return [DemoRow("toy-row", {"toy_stage": stage}, "toy_stage")]

    class Bad:
        @hookimpl
        def reid_demo_rows(self, demo: Demo) -> list[Any]:
            return [{"name": "not a row"}]

    settings = DemoSettings.quick()
    demo = Demo(settings, tmp_path, target_ids=6)
    rows = collect_rows(make_plugin_manager([RowPlugin()]), demo)
    assert [r.name for r in rows] == ["toy-row"]
    raw = compose(settings, tmp_path / "s", tmp_path / "t", tmp_path / "runs", [], rows, "d")
    # the fixed stages frame the plugin's: two pre-trainings first, the supervised bound last
    assert list(raw["stages"]) == ["pretrain1", "pretrain2", "toy_stage", "supervised_target"]
    assert raw["stages"]["toy_stage"]["inputs"] == {"init": "pretrain1.model"}
    assert raw["stages"]["toy_stage"]["iters"] == settings.iters
    assert raw["stages"]["supervised_target"]["train_on"] == "target"
    with pytest.raises(TypeError, match="returned .'name': 'not a row'. from reid_demo_rows"):
        collect_rows(make_plugin_manager([Bad()]), demo)
