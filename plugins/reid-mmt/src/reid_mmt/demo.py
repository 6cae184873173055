"""The rows the mmt plugin adds to ``reid demo``: the clustering baseline and MMT (k-means)."""

from __future__ import annotations

from typing import Any


def demo_rows(demo: Any) -> list[Any]:
    from reid_runner.demo import DemoRow

    k = max(2, demo.target_ids)  # the demo knows its synthetic target; real runs set K
    baseline = demo.stage("cluster-baseline", inputs={"init": demo.init["1"]},
                          clustering="kmeans", num_clusters=k)
    mmt = demo.stage("mmt", inputs={"init_1": demo.init["1"], "init_2": demo.init["2"]},
                     clustering="kmeans", num_clusters=k, alpha=demo.settings.ema_alpha)
    return [DemoRow("cluster-baseline", {"cluster_baseline": baseline}, "cluster_baseline"),
            DemoRow("mmt", {"mmt": mmt}, "mmt")]
