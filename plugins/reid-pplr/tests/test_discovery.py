from __future__ import annotations

from reid_plugin.testing import assert_plugin_discoverable


def test_discovery() -> None:
    pm = assert_plugin_discoverable("pplr")
    from reid_plugin import Registry

    methods = Registry.from_hook(pm, "reid_register_methods", "method")
    assert {"pplr", "pretrain"} <= set(methods.names())
    assert methods.origin("pplr") == "pplr"
    losses = Registry.from_hook(pm, "reid_register_losses", "loss")
    assert {"pglr", "aals", "camera_proxy_contrastive"} <= set(losses.names())
    assert losses.origin("pglr") == "pplr"


def test_installing_pplr_pulls_no_other_plugin() -> None:
    from importlib.metadata import requires

    deps = {r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip()
            for r in requires("reid-pplr") or [] if "extra ==" not in r}
    core = {"reid-plugin", "reid-data", "reid-models", "reid-cluster", "reid-runner"}
    assert {d for d in deps if d.startswith("reid")} <= core


def test_demo_row_starts_from_the_source_pretraining() -> None:
    from reid_runner.demo import Demo, DemoSettings

    demo = Demo(DemoSettings(), data_root=None, target_ids=50)  # type: ignore[arg-type]
    (row,) = assert_plugin_discoverable("pplr").hook.reid_demo_rows(demo=demo)[0]
    stage = row.stages["pplr"]
    assert row.name == "pplr" and row.report == "pplr"
    assert stage["method"] == "pplr" and stage["inputs"] == {"init": "pretrain1.model"}
    assert stage["arch"] == "resnet_minipart"  # the part model on the demo's backbone
    assert stage["lr"] == demo.settings.adapt_lr
    assert stage["eps"] == 0.5 and "k1" not in stage  # official clustering keys otherwise

    quick = Demo(DemoSettings.quick(), data_root=None, target_ids=6)  # type: ignore[arg-type]
    (row,) = assert_plugin_discoverable("pplr").hook.reid_demo_rows(demo=quick)[0]
    # `reid demo --quick` has ~26 target images: smaller neighbourhoods so DBSCAN finds clusters
    assert {k: row.stages["pplr"][k] for k in ("k1", "k", "min_samples")} == {
        "k1": 8, "k": 5, "min_samples": 2}
