from __future__ import annotations

from reid_plugin.testing import assert_plugin_discoverable


def test_discovery() -> None:
    pm = assert_plugin_discoverable("mmt")
    from reid_plugin import Registry

    methods = Registry.from_hook(pm, "reid_register_methods", "method")
    assert {"mmt", "cluster-baseline", "pretrain"} <= set(methods.names())
    assert methods.origin("mmt") == "mmt"


def test_demo_rows_use_the_demo_budget() -> None:
    from reid_plugin import make_plugin_manager
    from reid_runner.demo import Demo, DemoSettings

    settings = DemoSettings()
    demo = Demo(settings, data_root=None, target_ids=40)  # type: ignore[arg-type]
    (rows,) = make_plugin_manager(["mmt"]).hook.reid_demo_rows(demo=demo)
    by = {r.name: r for r in rows}
    assert list(by) == ["cluster-baseline", "mmt"]
    base, mmt = by["cluster-baseline"].stages["cluster_baseline"], by["mmt"].stages["mmt"]
    assert base["inputs"] == {"init": "pretrain1.model"}
    assert mmt["inputs"] == {"init_1": "pretrain1.model", "init_2": "pretrain2.model"}
    for st in (base, mmt):
        assert (st["clustering"], st["num_clusters"]) == ("kmeans", 40)
        assert (st["epochs"], st["iters"], st["lr"]) == (settings.epochs, settings.iters, settings.adapt_lr)
    # the teachers must move within the demo's few hundred steps (official 0.999 is ~1,000 steps)
    assert mmt["alpha"] == settings.ema_alpha < 0.999
