"""The row the pplr plugin adds to ``reid demo``: PPLR, fully unsupervised on the synthetic
target.

No ImageNet weights exist in the demo, so PPLR starts from the seed-1 source pre-training
(``demo.init["1"]``): the demo's ``model.arch`` (``resnet18``) is pre-trained as a plain
network and the stage builds its part variant (``resnet18part``), loading the backbone and the
global BNNeck from it; the part BNNecks and all classifiers start fresh (the classifiers are
re-initialised from cluster centroids every epoch anyway). The source labels are never used
by this stage. With the demo's short budget AALS starts half-way (official: epoch 5 of 50).
"""

from __future__ import annotations

from typing import Any

#: DBSCAN radius of the demo: the official default (0.4 and 0.3 did no better, README "Demo").
DEMO_EPS = 0.5


def demo_rows(demo: Any) -> list[Any]:
    from reid_runner.demo import DemoRow

    s = demo.settings
    clustering: dict[str, Any] = {"eps": DEMO_EPS}
    if demo.target_ids * s.cameras * s.images_per_camera < 300:
        # ``reid demo --quick`` (a few dozen images): neighbourhoods smaller than the data
        clustering = {"eps": 0.3, "k1": 8, "k": 5, "min_samples": 2}
    stage = demo.stage("pplr", inputs={"init": demo.init["1"]}, arch=f"{s.arch}part",
                       aals_epoch=max(1, s.epochs // 2), eval_every=0, **clustering)
    return [DemoRow("pplr", {"pplr": stage}, "pplr")]
