"""A run: preflight (plugins, config, datasets, inputs), the run directory, and its stages.

Preflight happens before any compute so bad input fails in seconds: a plugin that fails to import,
a config typo, an unknown method or backbone, a missing dataset folder, a missing input file.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reid_runner import _dist, checkpoint
from reid_runner._hooks import RunnerHooks
from reid_runner.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    build_config,
    load_yaml,
)
from reid_runner.context import RunInfo, StageContext
from reid_runner.engine import RunError, train_stage
from reid_runner.output import Recorder, close_logging, setup_logging


@dataclass
class Prepared:
    """The outcome of preflight: a validated config, its plugin manager and method classes."""

    config: RunConfig
    pm: Any
    methods: dict[str, type]


def raw_config(files: Sequence[str | Path], overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Merge YAML files (later ones win, recursively) and apply dotted overrides."""
    merged: dict[str, Any] = {}
    for f in files:
        merged = _merge(merged, load_yaml(f))
    return apply_overrides(merged, overrides)


def _merge(a: dict[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def method_registry(pm: Any) -> Any:
    """Every method class registered through ``reid_register_methods``."""
    return RunnerHooks(pm).reid_register_methods()


def plugin_sections(pm: Any) -> dict[str, type]:
    """Top-level config sections added by plugins (``reid_add_config_sections``)."""
    return RunnerHooks(pm).reid_add_config_sections()


def prepare(raw: Mapping[str, Any], extra_plugins: Sequence[object] = ()) -> Prepared:
    """Load the named plugins, validate the config and resolve the methods.

    ``extra_plugins`` are plugin objects registered after the named ones (tests, notebooks);
    a distributed run can only use named plugins, since every rank rebuilds its manager.
    """
    from reid_plugin import make_plugin_manager

    run_raw = raw.get("run") or {}
    plugins = run_raw.get("plugins") if isinstance(run_raw, Mapping) else None
    plugins = plugins or []
    if isinstance(plugins, str):
        plugins = [plugins]
    pm = make_plugin_manager([*(str(p) for p in plugins), *extra_plugins])
    reg = method_registry(pm)
    methods = {n: reg.get(n) for n in reg.names()}
    cfg = build_config(raw, {n: c.Config for n, c in methods.items()}, plugin_sections(pm))
    return Prepared(cfg, pm, methods)


def check_inputs(cfg: RunConfig, stage_dir_of: Any = None) -> None:
    """Every stage input names an earlier stage's artifact or an existing file."""
    earlier: list[str] = []
    for sname, st in cfg.stages.items():
        for role, ref in st.inputs.items():
            head = ref.split(".", 1)[0]
            if "." in ref and head in cfg.stages:
                if head not in earlier:
                    raise ConfigError(
                        f"stages.{sname}.inputs.{role}: artifact {ref!r} comes from stage "
                        f"{head!r}, which does not run before {sname!r}"
                    )
                continue
            if not Path(ref).expanduser().is_file():
                raise ConfigError(
                    f"stages.{sname}.inputs.{role}: {ref!r} is neither an artifact of an earlier "
                    f"stage ({', '.join(earlier) or 'none'}) nor an existing file (missing "
                    "checkpoint?)"
                )
        earlier.append(sname)


def check_resources(cfg: RunConfig, pm: Any, info: RunInfo | None = None) -> None:
    """Load every dataset the run names and resolve the backbone (errors name what is missing)."""
    from reid_models import backbone_registry

    if any(st.method != "evaluate" for st in cfg.stages.values()):
        backbone_registry(pm).get(cfg.model.arch)
    protocols = {n: st.protocol for n, st in cfg.stages.items() if getattr(st, "protocol", "")}
    if protocols:
        from reid_eval import protocol_registry

        reg = protocol_registry(pm)
        for sname, proto in protocols.items():
            if proto not in reg:
                raise ConfigError(f"stages.{sname}.protocol: unknown protocol {proto!r}; "
                                  f"choices: {', '.join(reg.names())}")
    if info is None:
        return
    names: list[str] = []
    d = cfg.data
    if d.source:
        names.append("source")
    if d.target:
        names.append("target")
    for st in cfg.stages.values():
        for n in st.eval_on:
            if n in ("source", "target") and not getattr(d, n):
                continue
            if n not in names:
                names.append(n)
        extra = getattr(st, "datasets", None)
        for n in extra or []:
            if n not in names:
                names.append(n)
    for n in names:
        info.dataset(n)
    check_validation_splits(cfg, info)


def check_validation_splits(cfg: RunConfig, info: RunInfo) -> None:
    """Stages that select on (``select: val``) or evaluate (``split: val``) a validation split
    name datasets that have one: otherwise a :class:`ConfigError` naming the key and dataset."""
    from reid_runner.evaluation import no_validation_message, validation_split

    d = cfg.data
    for sname, st in cfg.stages.items():
        needs: list[tuple[str, str]] = []
        if st.select == "val":
            if not st.eval_on:
                raise ConfigError(f"stages.{sname}.select: val selects on the validation split "
                                  f"of eval_on[0], but stages.{sname}.eval_on is empty")
            needs.append((f"stages.{sname}.select: val", st.eval_on[0]))
        if getattr(st, "split", "test") == "val":
            needs += [(f"stages.{sname}.split: val", n) for n in st.eval_on
                      if not (n in ("source", "target") and not getattr(d, n))]
        for key, name in needs:
            if name in ("source", "target") and not getattr(d, name):
                raise ConfigError(f"{key}: its dataset is data.{name}, which is not set")
            ds = info.dataset(name)
            if validation_split(ds) is None:
                role = f" ({name})" if name in ("source", "target") else ""
                raise ConfigError(f"{key}: {no_validation_message(ds)}{role}; use select: last "
                                  "(or split: test), or a dataset with a validation split")


def resolve_run_dir(cfg: RunConfig, run_dir: str | Path | None = None) -> Path:
    return Path(run_dir) if run_dir is not None else Path(cfg.run.out_dir) / cfg.run.name


def plugin_versions(pm: Any) -> dict[str, Any]:
    """Versions of the core packages and the loaded plugins, for ``plugins.json``."""
    from reid_plugin import core_packages, installed_plugins

    loaded = {name for name, _ in pm.list_name_plugin()}
    out: dict[str, Any] = {"torch": torch.__version__, "core": {}, "plugins": {}}
    for r in core_packages():
        out["core"][r.distribution] = r.version
    for r in installed_plugins():
        if r.name in loaded:
            out["plugins"][r.name] = {"distribution": r.distribution, "version": r.version}
    return out


# --------------------------------------------------------------------------- execution


def execute(raw: Mapping[str, Any], *, resume: bool = False, run_dir: str | Path | None = None,
            plugins: Sequence[object] = ()) -> dict[str, Any]:
    """Run every stage of a configuration in this process (one rank of a distributed run).

    :param raw: the raw config mapping (see :func:`raw_config`).
    :param resume: continue unfinished stages from their checkpoints.
    :param run_dir: the run directory (default ``run.out_dir/run.name``).
    :param plugins: extra plugin objects (single-process use: tests, notebooks).
    """
    world = _dist.world_from_env()
    prep = prepare(raw, plugins)
    cfg, pm = prep.config, prep.pm
    check_inputs(cfg)
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    device = _dist.select_device(cfg.run.device, world)
    _dist.init_process_group(world, device, cfg.run.backend)
    rdir = resolve_run_dir(cfg, run_dir)
    try:
        if world.is_main:
            rdir.mkdir(parents=True, exist_ok=True)
        _dist.barrier()
        log = setup_logging(rdir, world.is_main, world.rank)
        recorder = Recorder(rdir, world.is_main)
        info = RunInfo(cfg, rdir, world, device, pm, log, recorder)
        _configure_determinism(cfg)
        check_resources(cfg, pm, info)
        if world.is_main:
            _write_run_files(info)
        _dist.barrier()
        log.info("run %s: %d stage(s) [%s], %d process(es) on %s", cfg.run.name, len(cfg.stages),
                 ", ".join(cfg.stages), world.size, device)
        info.hooks.reid_run_start(run=info)
        summary: dict[str, Any] = {"run": cfg.run.name, "stages": {}}
        for sname, st in cfg.stages.items():
            summary["stages"][sname] = _run_stage(info, sname, st, prep.methods[st.method], resume)
        if world.is_main:
            (rdir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        info.hooks.reid_run_finish(run=info, summary=summary)
        recorder.close()
        return summary
    finally:
        close_logging()
        _dist.destroy_process_group()


def _configure_determinism(cfg: RunConfig) -> None:
    if cfg.run.deterministic:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def _write_run_files(info: RunInfo) -> None:
    rdir = info.run_dir
    text = info.config.to_yaml()
    cfg_path = rdir / "config.yaml"
    if cfg_path.exists() and cfg_path.read_text() != text:
        n = 1
        while (rdir / f"config.{n}.yaml").exists():
            n += 1
        cfg_path.rename(rdir / f"config.{n}.yaml")
        info.log.warning("the configuration changed since the last start; the previous one is "
                         "kept as config.%d.yaml", n)
    cfg_path.write_text(text)
    (rdir / "plugins.json").write_text(json.dumps(plugin_versions(info.pm), indent=2))


def _resolve_inputs(info: RunInfo, sname: str, st: Any) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for role, ref in st.inputs.items():
        if ref in info.artifacts:
            out[role] = Path(info.artifacts[ref])
            continue
        head = ref.split(".", 1)[0]
        if "." in ref and head in info.config.stages:
            have = sorted(k for k in info.artifacts if k.startswith(head + "."))
            raise RunError(f"stages.{sname}.inputs.{role}: stage {head!r} published no artifact "
                           f"{ref!r}; it published {', '.join(have) or 'nothing'}")
        p = Path(ref).expanduser()
        if not p.is_file():
            raise checkpoint.CheckpointError(f"stages.{sname}.inputs.{role}: checkpoint {p} does "
                                             "not exist")
        out[role] = p
    return out


def _run_stage(info: RunInfo, sname: str, st: Any, method_cls: type,
               resume: bool) -> dict[str, Any]:
    stage_dir = info.run_dir / "stages" / sname
    done = stage_dir / "done.json"
    stage_cfg = dataclasses.asdict(st)
    if done.exists():
        record = json.loads(done.read_text())
        if record.get("config") != json.loads(json.dumps(stage_cfg)):
            raise RunError(f"stage {sname!r} already finished with another configuration "
                           f"({done}); use a new run.name or delete {stage_dir} to run it again")
        info.log.info("stage %s: already finished, skipped", sname)
        info.artifacts.update({f"{sname}.{k}": v for k, v in record["artifacts"].items()})
        return record
    if info.world.is_main:
        stage_dir.mkdir(parents=True, exist_ok=True)
    _dist.barrier()
    ctx = StageContext(info, sname, st, stage_dir, _resolve_inputs(info, sname, st))
    method = method_cls(st)
    ctx.method = method
    checkpoint.seed_everything(ctx.seed)
    info.log.info("stage %s: method %s (seed %d)", sname, st.method, ctx.seed)
    if method.trains:
        result = train_stage(ctx, resume)
    else:
        info.hooks.reid_stage_start(ctx=ctx)
        result = method.run(ctx)
        result.setdefault("artifacts", {})
        result["artifacts"] = {k: str(v) for k, v in result["artifacts"].items()}
    info.hooks.reid_stage_finish(ctx=ctx, result=result)
    record = {"stage": sname, "method": st.method, "config": stage_cfg, **result}
    if info.world.is_main:
        tmp = done.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2, default=str))
        os.replace(tmp, done)
    _dist.barrier()
    info.artifacts.update({f"{sname}.{k}": v for k, v in result["artifacts"].items()})
    info.recorder.write({"kind": "stage", "stage": sname, "metrics": result.get("metrics", {})})
    return json.loads(json.dumps(record, default=str))
