"""The ``reid`` command line.

    reid train CONFIG.yaml [CONFIG2.yaml ...] [key=value ...] [--resume] [--gpus N]
    reid resume RUN_DIR [key=value ...] [--gpus N]
    reid eval MODEL.pt [MODEL2.pt ...] -d DATASET [--data-root DIR] [--rerank] [--ensemble]
    reid runs [OUT_DIR] [--json]
    reid plugins [--json]
    reid data list|check|synth ...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _cmd_plugins(args: argparse.Namespace) -> int:
    from reid_plugin import describe_plugins

    infos = describe_plugins()
    if args.json:
        print(json.dumps({"plugins": [i.as_dict() for i in infos]}, indent=2))
        return 0
    rows = [("NAME", "KIND", "DISTRIBUTION", "VERSION", "HOOKS")]
    for i in infos:
        hooks = ", ".join(i.hooks) if i.error is None else f"ERROR: {i.error}"
        rows.append((i.name, i.kind, i.distribution, i.version, hooks))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in range(4)) + "  " + r[4])
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from reid_data.cli import main as data_main

    return data_main(args.rest)


# --------------------------------------------------------------------------- launching


def _add_launch_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("processes (DDP through torchrun)")
    g.add_argument("--gpus", "--nproc-per-node", dest="nproc", type=int, default=0,
                   help="processes per node; > 1 hands off to torchrun (on CPU with gloo when "
                        "run.device=cpu)")
    g.add_argument("--nnodes", type=str, default="1", help="torchrun --nnodes")
    g.add_argument("--node-rank", type=int, default=None, help="torchrun --node-rank")
    g.add_argument("--master-addr", type=str, default=None, help="torchrun --master-addr")
    g.add_argument("--master-port", type=int, default=None, help="torchrun --master-port")
    g.add_argument("--rdzv-endpoint", type=str, default=None, help="torchrun --rdzv-endpoint")


def _under_torchrun() -> bool:
    return "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_RANK" in os.environ


def _handoff(args: argparse.Namespace, argv: Sequence[str]) -> int | None:
    """Re-launch this command under torchrun when more than one process is asked for."""
    multi_node = args.nnodes not in ("1", "1:1")
    if _under_torchrun() or (args.nproc <= 1 and not multi_node):
        return None
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={max(args.nproc, 1)}",
           f"--nnodes={args.nnodes}"]
    if args.node_rank is not None:
        cmd.append(f"--node-rank={args.node_rank}")
    if args.master_addr:
        cmd.append(f"--master-addr={args.master_addr}")
    if args.master_port:
        cmd.append(f"--master-port={args.master_port}")
    if args.rdzv_endpoint:
        cmd.append(f"--rdzv-endpoint={args.rdzv_endpoint}")
    if not multi_node and not (args.master_addr or args.master_port or args.rdzv_endpoint):
        cmd.append("--standalone")
    rest = _strip_launch_args(argv)
    cmd += ["-m", "reid_runner", *rest]
    return subprocess.call(cmd)


def _strip_launch_args(argv: Sequence[str]) -> list[str]:
    flags = {"--gpus", "--nproc-per-node", "--nnodes", "--node-rank", "--master-addr",
             "--master-port", "--rdzv-endpoint"}
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        name = a.split("=", 1)[0]
        if name in flags:
            skip = "=" not in a
            continue
        out.append(a)
    return out


# --------------------------------------------------------------------------- train / resume / eval


def _split_targets(items: Sequence[str]) -> tuple[list[str], list[str]]:
    files = [i for i in items if "=" not in i]
    overrides = [i for i in items if "=" in i]
    return files, overrides


def _cmd_train(args: argparse.Namespace) -> int:
    from reid_runner.run import execute, raw_config

    code = _handoff(args, args.argv)
    if code is not None:
        return code
    files, overrides = _split_targets(args.items)
    if not files:
        raise SystemExit("reid train: give at least one config file")
    execute(raw_config(files, overrides), resume=args.resume, run_dir=args.run_dir)
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    from reid_runner.config import ConfigError
    from reid_runner.run import execute, raw_config

    code = _handoff(args, args.argv)
    if code is not None:
        return code
    run_dir = Path(args.run_dir)
    cfg = run_dir / "config.yaml"
    if not cfg.is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no config.yaml)")
    execute(raw_config([cfg], args.overrides), resume=True, run_dir=run_dir)
    return 0


def _model_meta(path: str) -> dict[str, Any]:
    from reid_runner.engine import read_model_artifact

    meta, _ = read_model_artifact(path)
    return meta


def _cmd_eval(args: argparse.Namespace) -> int:
    from reid_runner.run import execute, raw_config

    files = [m for m in args.models if "=" not in m]
    overrides = [m for m in args.models if "=" in m]
    if not files:
        raise SystemExit("reid eval: give at least one model file")
    raw = raw_config([args.config] if args.config else [], [])
    meta = _model_meta(files[0])
    run = raw.setdefault("run", {})
    run.setdefault("name", args.name or f"eval-{args.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
    if args.out_dir:
        run["out_dir"] = args.out_dir
    if args.plugins:
        run["plugins"] = args.plugins
    data = raw.setdefault("data", {})
    data["target"] = args.dataset
    if args.data_root:
        data["root"] = args.data_root
    for key in ("height", "width"):
        if key in meta:
            data.setdefault(key, meta[key])
    model = raw.setdefault("model", {})
    if meta.get("arch"):
        model.setdefault("arch", meta["arch"])
    model["pretrained"] = False
    raw["stages"] = {"evaluate": {
        "method": "evaluate",
        "inputs": {f"m{i}": str(Path(f).resolve()) for i, f in enumerate(files)},
        "eval_on": ["target"], "ensemble": args.ensemble, "rerank": args.rerank,
        "flip": args.flip, "protocol": args.protocol or "", "split": args.split,
    }}
    from reid_runner.config import apply_overrides

    summary = execute(apply_overrides(raw, overrides))
    if args.json:
        print(json.dumps(summary["stages"]["evaluate"]["metrics"], indent=2))
    return 0


# --------------------------------------------------------------------------- runs


def list_runs(out_dir: Path) -> list[dict[str, Any]]:
    """Run directories under ``out_dir`` with their stages' status and final metrics."""
    import yaml

    runs = []
    for cfg_path in sorted(out_dir.glob("*/config.yaml")):
        rdir = cfg_path.parent
        try:
            stages = list((yaml.safe_load(cfg_path.read_text()) or {}).get("stages") or {})
        except Exception:
            stages = []
        done, metrics = [], {}
        for s in stages:
            d = rdir / "stages" / s / "done.json"
            if d.is_file():
                rec = json.loads(d.read_text())
                done.append(s)
                if rec.get("metrics"):
                    metrics = {"stage": s, "metrics": rec["metrics"]}
        status = "finished" if stages and len(done) == len(stages) else (
            f"{len(done)}/{len(stages)} stages")
        runs.append({"run": rdir.name, "path": str(rdir), "status": status,
                     "stages": stages, "done": done, "final": metrics})
    return runs


def _cmd_runs(args: argparse.Namespace) -> int:
    runs = list_runs(Path(args.out_dir))
    if args.json:
        print(json.dumps({"runs": runs}, indent=2))
        return 0
    if not runs:
        print(f"no runs under {args.out_dir}")
        return 0
    rows = [("RUN", "STATUS", "STAGE", "DATASET", "MODEL", "mAP", "Rank-1", "Rank-5")]
    for r in runs:
        final = r["final"]
        if not final:
            rows.append((r["run"], r["status"], "-", "-", "-", "-", "-", "-"))
            continue
        for dset, per in final["metrics"].items():
            for model, m in per.items():
                rows.append((r["run"], r["status"], final["stage"], dset, model,
                             f"{100 * m['mAP']:.1f}", f"{100 * m.get('rank1', 0):.1f}",
                             f"{100 * m.get('rank5', 0):.1f}"))
    widths = [max(len(str(row[c])) for row in rows) for c in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from reid_runner.demo import DemoSettings, default_cache, format_table, run_demo

    settings = DemoSettings.quick() if args.quick else DemoSettings()
    if args.threads is not None:
        settings.threads = args.threads
    cache = Path(args.cache) if args.cache else default_cache()
    t0 = time.time()

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    rows, run_dir = run_demo(Path(args.out_dir), cache, settings, name=args.name, log=say)
    if args.json:
        print(json.dumps({"rows": rows}, indent=2))
    else:
        print(format_table(rows))
        print(f"\nrun directory: {run_dir}  (config.yaml, log.txt, metrics.jsonl with the "
              f"per-epoch losses, metrics and pseudo-label telemetry, TensorBoard events in tb/, "
              f"stages/*/model.pt)")
    say(f"reid demo finished in {time.time() - t0:.0f} s")
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reid", description="re-ID training and evaluation")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="run the stages of a config (skips finished stages)")
    p.add_argument("items", nargs="+", metavar="CONFIG|key=value",
                   help="YAML config files (merged in order) and dotted key=value overrides")
    p.add_argument("--resume", action="store_true",
                   help="continue an unfinished stage from its checkpoint")
    p.add_argument("--run-dir", default=None, help="run directory (default run.out_dir/run.name)")
    _add_launch_options(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("resume", help="continue a run from its directory")
    p.add_argument("run_dir")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    _add_launch_options(p)
    p.set_defaults(func=_cmd_resume)

    p = sub.add_parser("eval", help="evaluate model files on a dataset")
    p.add_argument("models", nargs="+", metavar="MODEL.pt|key=value")
    p.add_argument("-d", "--dataset", required=True, help="dataset name (e.g. market1501)")
    p.add_argument("--data-root", default=None, help="folder holding the datasets")
    p.add_argument("--config", default=None, help="config file for run/data/model settings")
    p.add_argument("--protocol", default=None, help="reid-eval protocol (default per dataset)")
    p.add_argument("--split", default="test", choices=["test", "val"])
    p.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking")
    p.add_argument("--flip", action="store_true", help="average with flipped images")
    p.add_argument("--ensemble", action="store_true", help="concatenate all models' features")
    p.add_argument("--plugins", nargs="*", default=None, help="plugins to load (distance hooks)")
    p.add_argument("--out-dir", default=None, help="folder of run directories (default runs)")
    p.add_argument("--name", default=None, help="run name")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("demo", help="the whole pipeline on built-in synthetic data, one table")
    p.add_argument("--out-dir", default="runs", help="folder of run directories (default runs)")
    p.add_argument("--name", default="demo", help="run name (default demo)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: torch's, one per core; 1 on a busy machine)")
    p.add_argument("--cache", default=None,
                   help="folder for the generated data (default ~/.cache/reid/demo-data)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.add_argument("--quick", action="store_true",
                   help="a tiny budget for smoke tests (numbers are meaningless)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("runs", help="list runs and their final metrics")
    p.add_argument("out_dir", nargs="?", default="runs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_runs)

    p = sub.add_parser("plugins",
                       help="list installed plugins, versions and the hooks they implement")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_plugins)
    # listed for `reid --help`; main() hands `reid data ...` to reid-data before parsing
    p = sub.add_parser("data", help="dataset tools: list, check a layout, generate synthetic data "
                                    "(reid data --help)", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_data)
    return parser


def _known_errors() -> tuple[type[BaseException], ...]:
    from reid_plugin import PluginError
    from reid_runner.checkpoint import CheckpointError
    from reid_runner.config import ConfigError
    from reid_runner.engine import RunError

    errs: list[type[BaseException]] = [PluginError, ConfigError, CheckpointError, RunError]
    try:
        from reid_data import DatasetLayoutError

        errs.append(DatasetLayoutError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from reid_models import PretrainedWeightsNotFoundError

        errs.append(PretrainedWeightsNotFoundError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errs)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["data"]:
        # everything after `data` is reid-data's, `--help` included (argparse's REMAINDER would
        # reject a leading option such as `reid data --help`)
        return _cmd_data(argparse.Namespace(rest=argv[1:]))
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    if args.command in ("plugins", "data"):
        return int(args.func(args) or 0)
    try:
        return int(args.func(args) or 0)
    except _known_errors() as exc:
        print(f"reid {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
