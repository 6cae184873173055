"""``reid demo``: the whole UDA pipeline on the built-in synthetic data, in one table.

Synthetic source and target data (cached), two source pre-trainings (seeds 1 and 2), the
direct-transfer row (the seed-1 pre-training evaluated on the target test split), a
supervised-on-target upper bound, and every row that installed plugins add through
``reid_demo_rows`` (the mmt plugin adds ``cluster-baseline`` and ``mmt``). Everything is one run,
so a second ``reid demo`` reuses finished stages and an interrupted one resumes.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Fixed rows first and last; plugin rows in between, in plugin order.
FIRST_ROWS = ("direct-transfer",)
LAST_ROWS = ("supervised-target",)


@dataclass
class DemoSettings:
    """The demo's budget. ``full`` fits in about 10 minutes on 2 CPU cores; ``quick`` is for
    tests (seconds per stage, numbers meaningless)."""

    ids: int = 200
    cameras: int = 6
    images_per_camera: int = 4
    image_size: tuple[int, int] = (64, 32)
    #: Strength of the target style's imaging degradations (0 clean .. 1 full); see
    #: benchmarks/demo_calibration for how the value was chosen.
    gap: float = 0.5
    #: A narrow ResNet: from scratch on CPU it learns ~3x more per second than ResNet-18.
    arch: str = "resnet_mini"
    batch_size: int = 32
    num_instances: int = 4
    pretrain_epochs: int = 8
    pretrain_iters: int = 40
    #: Source pre-training lr (Adam; one warm-up epoch, x0.1 for the last two epochs).
    lr: float = 1e-3
    epochs: int = 4
    iters: int = 60
    #: lr of the adaptation stages (the official 3.5e-4).
    adapt_lr: float = 3.5e-4
    #: Mean-teacher momentum. The official 0.999 averages over ~1,000 steps; the demo's
    #: adaptation has a few hundred, so its teachers would barely move from the pre-training.
    ema_alpha: float = 0.99
    workers: int = 2
    #: CPU threads (``run.threads``; 0 = torch's default).
    threads: int = 0

    @classmethod
    def quick(cls) -> DemoSettings:
        return cls(ids=12, cameras=3, images_per_camera=2, image_size=(32, 16), batch_size=8,
                   num_instances=2, pretrain_epochs=1, pretrain_iters=2, epochs=1, iters=2,
                   workers=0)

    @property
    def pretrain_milestones(self) -> list[int]:
        """The pre-training lr drops x0.1 for the last quarter of the epochs (at least one)."""
        e = self.pretrain_epochs
        return [e - max(1, e // 4)] if e > 2 else []


@dataclass
class DemoRow:
    """One row of the demo table: the stages it needs and the stage whose metrics it shows."""

    name: str
    stages: dict[str, dict[str, Any]]
    report: str
    #: Network of the report stage to show (``None``: the first one evaluated).
    net: str | None = None


@dataclass
class Demo:
    """What ``reid_demo_rows`` implementations see."""

    settings: DemoSettings
    data_root: Path
    target_ids: int
    init: dict[str, str] = field(default_factory=lambda: {"1": "pretrain1.model",
                                                          "2": "pretrain2.model"})

    def stage(self, method: str, **keys: Any) -> dict[str, Any]:
        """A stage config with the demo's adaptation budget (``epochs``, ``iters``, ``lr``)."""
        s = self.settings
        return {"method": method, "epochs": s.epochs, "iters": s.iters, "lr": s.adapt_lr,
                "eval_on": ["target"], **keys}


def default_cache() -> Path:
    base = os.environ.get("REID_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "reid" / "demo-data"


def make_data(settings: DemoSettings, cache: Path) -> tuple[Path, Path]:
    """Generate (or reuse) the synthetic source and target datasets."""
    from reid_data.synth import synthesize

    common = dict(ids=settings.ids, cameras=settings.cameras,
                  images_per_camera=settings.images_per_camera, image_size=settings.image_size)
    tag = f"{settings.ids}-{settings.image_size[0]}x{settings.image_size[1]}"
    src = synthesize(cache / f"source-{tag}", style="source", seed=1, **common)
    tgt = synthesize(cache / f"target-{tag}-gap{settings.gap}", style="target", seed=2,
                     gap=settings.gap, **common)
    return Path(src), Path(tgt)


def compose(settings: DemoSettings, src: Path, tgt: Path, out_dir: Path,
            pm_plugins: list[str], rows: list[DemoRow], name: str) -> dict[str, Any]:
    """The demo's run configuration (raw mapping for :func:`reid_runner.run.execute`)."""
    s = settings
    h, w = s.image_size
    pre = {"method": "pretrain", "epochs": s.pretrain_epochs, "iters": s.pretrain_iters,
           "lr": s.lr, "warmup_epochs": 1, "milestones": s.pretrain_milestones,
           "eval_on": ["target"]}
    stages: dict[str, dict[str, Any]] = {
        "pretrain1": {**pre, "seed": 1},
        "pretrain2": {**pre, "seed": 2},
    }
    for row in rows:
        for sname, scfg in row.stages.items():
            if sname in stages:
                raise ValueError(f"demo row {row.name!r} reuses the stage name {sname!r}")
            stages[sname] = scfg
    stages["supervised_target"] = {**pre, "seed": 1, "train_on": "target"}
    return {
        "run": {"name": name, "out_dir": str(out_dir), "device": "auto", "plugins": pm_plugins,
                "log_every": 0, "seed": 1, "threads": s.threads},
        "data": {"source": "market1501", "target": "market1501", "source_root": str(src),
                 "target_root": str(tgt), "height": h, "width": w, "batch_size": s.batch_size,
                 "num_instances": s.num_instances, "test_batch_size": 128,
                 "workers": s.workers},
        "model": {"arch": s.arch, "pretrained": False},
        "stages": stages,
    }


def _metrics(summary: dict[str, Any], stage: str, net: str | None) -> dict[str, float]:
    final = summary["stages"][stage]["metrics"]
    key = next(k for k in final if k.startswith("target"))
    per_net = final[key]
    m = per_net[net] if net else next(iter(per_net.values()))
    return {"mAP": float(m["mAP"]), "rank1": float(m["cmc"][0]), "rank5": float(m["cmc"][4])}


def table(summary: dict[str, Any], rows: list[DemoRow]) -> list[dict[str, Any]]:
    fixed = [DemoRow("direct-transfer", {}, "pretrain1"),
             DemoRow("supervised-target", {}, "supervised_target")]
    ordered = [fixed[0], *rows, fixed[1]]
    return [{"method": r.name, **_metrics(summary, r.report, r.net)} for r in ordered]


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'method':<20} {'mAP':>6} {'Rank-1':>7} {'Rank-5':>7}", "-" * 43]
    for r in rows:
        lines.append(f"{r['method']:<20} {100 * r['mAP']:6.1f} {100 * r['rank1']:7.1f} "
                     f"{100 * r['rank5']:7.1f}")
    return "\n".join(lines)


def collect_rows(pm: Any, demo: Demo) -> list[DemoRow]:
    """The rows every plugin adds through ``reid_demo_rows``, in plugin registration order."""
    rows: list[DemoRow] = []
    for impl in pm.hook.reid_demo_rows.get_hookimpls():
        for row in impl.function(demo=demo) or []:
            if not isinstance(row, DemoRow):
                raise TypeError(f'plugin "{impl.plugin_name}" returned {row!r} from '
                                "reid_demo_rows; expected reid_runner.demo.DemoRow")
            rows.append(row)
    return rows


def run_demo(out_dir: Path, cache: Path, settings: DemoSettings, name: str = "demo",
             log: Any = print) -> tuple[list[dict[str, Any]], Path]:
    """Generate data, compose and execute the demo run; return the table rows and run dir."""
    from reid_data import create_dataset
    from reid_plugin import installed_plugins, make_plugin_manager
    from reid_runner.run import execute

    log(f"reid demo: synthetic data in {cache} ...")
    src, tgt = make_data(settings, cache)
    # The demo shows every installed method: load all installed plugins (a normal run loads
    # only those its config names).
    names = [r.name for r in installed_plugins()]
    pm = make_plugin_manager(names)
    target = create_dataset("market1501", str(tgt), pm=pm)
    demo = Demo(settings, tgt, target_ids=target.num_train_pids)
    rows = collect_rows(pm, demo)
    raw = compose(settings, src, tgt, out_dir, names, rows, name)
    stages = ", ".join(raw["stages"])
    log(f"reid demo: stages {stages}")
    summary = execute(raw, resume=True)
    out = table(summary, rows)
    run_dir = out_dir / name
    (run_dir / "demo.json").write_text(json.dumps({"rows": out, "settings": asdict(settings)},
                                                  indent=2))
    return out, run_dir
