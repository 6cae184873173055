"""The training engine: runs one stage of a run (epochs, iterations, evaluation, checkpoints).

See :mod:`reid_runner.method` for the call order. Model selection never looks at a test split:
``select: last`` keeps the last epoch, ``select: val`` the best mAP on a labelled validation split;
the choice is written to ``stages/<stage>/selection.json``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reid_runner import _dist, checkpoint
from reid_runner.checkpoint import CheckpointError
from reid_runner.context import StageContext
from reid_runner.evaluation import compute_metrics, default_protocol, eval_splits
from reid_runner.output import Progress, format_metrics


class RunError(RuntimeError):
    """A run cannot proceed as asked (e.g. an unfinished stage without ``--resume``)."""


# --------------------------------------------------------------------------- helpers


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list):
        return [to_device(v, device) for v in batch]
    if isinstance(batch, tuple):
        return tuple(to_device(v, device) for v in batch)
    return batch


def _batch_images(batch: dict[str, Any]) -> int:
    n = 0
    for b in batch.values():
        if isinstance(b, dict):
            x = b.get("image", b.get("images"))
            if isinstance(x, list):
                x = x[0]
            if isinstance(x, torch.Tensor):
                n += int(x.shape[0])
    return n


def _params(optimizers: dict[str, torch.optim.Optimizer]) -> list[torch.Tensor]:
    seen: set[int] = set()
    out = []
    for opt in optimizers.values():
        for g in opt.param_groups:
            for p in g["params"]:
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
    return out


def _lr(optimizers: dict[str, torch.optim.Optimizer]) -> float:
    for opt in optimizers.values():
        return float(opt.param_groups[0]["lr"])
    return 0.0


def save_model_artifact(ctx: StageContext, nets: dict[str, nn.Module], path: Path) -> Path:
    """Write networks as a model artifact (``weights_only`` loadable; rank 0 writes)."""
    if ctx.is_main:
        obj = {
            "format": checkpoint.MODEL_FORMAT,
            "meta": {**(ctx.method.signature(ctx) if ctx.method else {}), "stage": ctx.name,
                     "height": ctx.config.data.height, "width": ctx.config.data.width},
            "nets": {k: {n: t.detach().cpu() for n, t in v.state_dict().items()}
                     for k, v in nets.items()},
        }
        checkpoint.atomic_save(obj, path)
    _dist.barrier()
    return path


def read_model_artifact(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``(meta, {net_name: state_dict})`` of a model artifact (or a plain state dict file)."""
    obj = checkpoint.load(path, what="model file")
    if obj.get("format") == checkpoint.MODEL_FORMAT:
        return dict(obj.get("meta", {})), dict(obj["nets"])
    if obj.get("format") == checkpoint.TRAIN_FORMAT:
        return dict(obj.get("meta", {})), dict(obj["models"])
    if all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {}, {"model": obj}
    raise CheckpointError(f"model file {path} is neither a reid model artifact nor a state dict")


def load_network(net: nn.Module, path: str | Path, name: str | None = None, *,
                 skip_mismatched: tuple[str, ...] = ("classifier",), pm: Any = None,
                 log: Any = None) -> dict[str, Any]:
    """Load network ``name`` (or the only/first one) of a model file into ``net``.

    Keys containing one of ``skip_mismatched`` whose shape differs (a classifier of another
    number of classes) are left as initialised, and dropped when ``net`` has no such key (built
    without a classifier); any other difference is a :class:`CheckpointError` naming the file
    and the keys.

    **A plain backbone into a model that extends it.** When the file holds another architecture
    whose backbone ``net``'s backbone extends (``resnet50`` weights, e.g. from a ``pretrain``
    stage, into ``resnet50part``, whose backbone class subclasses ``resnet50``'s; looked up in
    the backbone registry of ``pm``), every ``backbone.*`` and ``head.*`` key of ``net`` must
    come from the file with its shape (classifiers aside, as above), and the keys the extension
    adds (the part BNNecks and part classifiers) keep their initialisation. A file of an
    unrelated architecture is an error.

    What happened to each key is stored as ``net.load_report`` (a
    :class:`reid_models.weights.LoadReport`: ``loaded``; ``missing`` = the network's keys left
    initialised because the file lacks them; ``mismatched`` = ``(key, file shape, network
    shape)`` left initialised; ``ignored`` = file keys the network has no place for) and
    logged on ``log`` (a ``logging.Logger``) when given. Returns the artifact's meta.
    """
    from reid_models.weights import LoadReport

    meta, nets = read_model_artifact(path)
    if name is None:
        name = next(iter(nets))
    if name not in nets:
        raise CheckpointError(f"model file {path} has no network {name!r}; it has {sorted(nets)}")
    arch = getattr(net, "arch", None)
    file_arch = meta.get("arch")
    extends = False
    if arch is not None and file_arch not in (None, arch):
        extends = _extends(net, file_arch, pm)
        if not extends:
            raise CheckpointError(
                f"model file {path} holds a {file_arch!r} network but this stage builds "
                f"{arch!r} (model.arch), which neither is nor extends it"
            )
    state = dict(nets[name])
    own = net.state_dict()
    report = LoadReport(f"network {name!r} of {path}")
    for k in list(state):
        if not any(s in k for s in skip_mismatched):
            continue
        if k not in own:
            del state[k]  # e.g. a classifier when the network is built without one
            report.ignored.append(k)
        elif own[k].shape != state[k].shape:
            report.mismatched.append((k, tuple(state[k].shape), tuple(own[k].shape)))
            state[k] = own[k]
    if extends:
        for k, v in own.items():
            if k not in state and not k.startswith(("backbone.", "head.")):
                state[k] = v  # a module the extension adds: keeps its initialisation
                report.missing.append(k)
    checkpoint.load_state_strict(net, state, f"network {name!r} of {path}")
    report.missing.sort()
    report.ignored.sort()
    kept = {k for k, *_ in report.mismatched} | set(report.missing)
    report.loaded = sorted(k for k in state if k not in kept)
    net.load_report = report
    if log is not None:
        log.info("loaded %s into %s", report.summary(), arch or type(net).__name__)
    return meta


def _extends(net: nn.Module, file_arch: str, pm: Any) -> bool:
    """Whether ``net``'s backbone is (a subclass of) the backbone class of ``file_arch``."""
    from reid_models import backbone_registry

    backbone = getattr(net, "backbone", None)
    reg = backbone_registry(pm)
    if backbone is None or file_arch not in reg:
        return False
    return isinstance(backbone, reg.get(file_arch))


# --------------------------------------------------------------------------- evaluation


def evaluate_nets(ctx: StageContext, nets: dict[str, nn.Module], datasets: list[str] | Any,
                  split: str = "test", *, flip: bool = False, protocol: str | None = None,
                  rerank: bool = False, rerank_options: dict[str, Any] | None = None,
                  epoch: int | None = None) -> dict[str, dict[str, Any]]:
    """Evaluate every network on every dataset's ``split``; log, record and fire the hook."""
    results: dict[str, dict[str, Any]] = {}
    ep = ctx.epoch if epoch is None else epoch
    d = ctx.config.data
    for dname in datasets:
        if dname in ("source", "target") and not getattr(d, dname):
            continue  # a role the run does not configure (e.g. no target for pre-training)
        ds = ctx.dataset(dname)
        query, gallery = eval_splits(ds, split)
        key = f"{dname}/{split}"
        results[key] = {}
        for net_name, net in nets.items():
            t0 = time.perf_counter()
            feats = ctx.extract(net, query + gallery, flip=flip)
            m = compute_metrics(ctx, feats[: len(query)], feats[len(query):], query, gallery,
                                protocol=protocol or default_protocol(ds), rerank=rerank,
                                rerank_options=rerank_options)
            m["seconds"] = round(time.perf_counter() - t0, 2)
            results[key][net_name] = m
            if ctx.is_main:
                title = f"[{ctx.name}] epoch {ep} {net_name} on {key}"
                ctx.log.info("%s", format_metrics(title, m))
                ctx.run.recorder.write({"kind": "eval", "stage": ctx.name, "epoch": ep,
                                        "dataset": key, "model": net_name, **m})
                ctx.run.recorder.scalars(f"{ctx.name}/eval/{key}/{net_name}", m, ep)
                ctx.hooks.reid_evaluation_finish(ctx=ctx, epoch=ep, dataset=key, model=net_name,
                                                 metrics=m)
    return results


# --------------------------------------------------------------------------- checkpoints


def _save_checkpoint(ctx: StageContext, path: Path, epoch: int, iteration: int,
                     scaler: Any, extra: dict[str, Any]) -> None:
    m = ctx.method
    assert m is not None
    rngs = _dist.all_gather_object(checkpoint.rng_state())
    if not ctx.is_main:
        _dist.barrier()
        return
    obj = {
        "format": checkpoint.TRAIN_FORMAT,
        "meta": {**m.signature(ctx), "stage": ctx.name, "world_size": ctx.world.size},
        "epoch": epoch,
        "iteration": iteration,
        "models": {k: v.state_dict() for k, v in m.models().items()},
        "optimizers": {k: v.state_dict() for k, v in m.optimizers().items()},
        "schedulers": {k: v.state_dict() for k, v in m.schedulers().items()},
        "scaler": scaler.state_dict() if scaler.is_enabled() else {},
        "method": m.state_dict(),
        "rng": rngs,
        "engine": extra,
    }
    checkpoint.atomic_save(obj, path)
    _dist.barrier()


def _restore(ctx: StageContext, path: Path, scaler: Any) -> dict[str, Any]:
    m = ctx.method
    assert m is not None
    state = checkpoint.load(path)
    if state.get("format") != checkpoint.TRAIN_FORMAT:
        raise CheckpointError(f"{path} is not a reid training checkpoint")
    checkpoint.check_compatible(state.get("meta", {}), m.signature(ctx), path)
    models, opts, scheds = m.models(), m.optimizers(), m.schedulers()
    for kind, have, saved in (("networks", models, state["models"]),
                              ("optimisers", opts, state["optimizers"]),
                              ("schedulers", scheds, state["schedulers"])):
        if set(have) != set(saved):
            raise CheckpointError(
                f"checkpoint {path} holds {kind} {sorted(saved)} but method {m.name!r} has "
                f"{sorted(have)} (another method or configuration?)"
            )
    for k, net in models.items():
        checkpoint.load_state_strict(net, state["models"][k], f"network {k!r} of {path}")
    for k, opt in opts.items():
        opt.load_state_dict(state["optimizers"][k])
    for k, sch in scheds.items():
        sch.load_state_dict(state["schedulers"][k])
    if state.get("scaler") and scaler.is_enabled():
        scaler.load_state_dict(state["scaler"])
    m.load_state_dict(state["method"])
    rngs = state["rng"]
    if len(rngs) != ctx.world.size:
        ctx.log.warning("checkpoint %s was written by %d processes, resuming with %d: data and "
                        "losses are identical but random dropout masks may differ", path,
                        len(rngs), ctx.world.size)
    checkpoint.set_rng_state(rngs[min(ctx.world.rank, len(rngs) - 1)])
    return state


# --------------------------------------------------------------------------- the stage loop


def train_stage(ctx: StageContext, resume: bool) -> dict[str, Any]:
    """Run (or resume) the training loop of ``ctx.method``; returns the stage result."""
    m = ctx.method
    assert m is not None
    cfg = ctx.stage
    run = ctx.run
    ckpt_path = ctx.stage_dir / "checkpoint.pt"
    m.build(ctx)
    for net in m.models().values():
        _dist.broadcast_module(net)
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=ctx.amp is torch.float16)
    start_epoch, start_iter = 0, 0
    engine_state: dict[str, Any] = {"sums": {}, "count": 0, "selection": None}
    if ckpt_path.exists():
        if not resume:
            raise RunError(
                f"stage {ctx.name!r} has an unfinished checkpoint {ckpt_path}; pass --resume "
                f"(or use `reid resume {run.run_dir}`) to continue it, or delete it to restart"
            )
        state = _restore(ctx, ckpt_path, scaler)
        start_epoch, start_iter = int(state["epoch"]), int(state["iteration"])
        engine_state = dict(state.get("engine") or engine_state)
        ctx.log.info("[%s] resumed from %s at epoch %d iteration %d", ctx.name, ckpt_path,
                     start_epoch, start_iter)
    run.hooks.reid_stage_start(ctx=ctx)
    ctx.epoch, ctx.iteration = start_epoch, start_iter
    last_eval: dict[str, Any] | None = None
    for epoch in range(start_epoch, cfg.epochs):
        ctx.epoch = epoch
        if start_iter == 0:
            ctx.iteration = 0
            m.epoch_start(ctx, epoch)
            run.hooks.reid_epoch_start(ctx=ctx, epoch=epoch)
            engine_state["sums"], engine_state["count"] = {}, 0
        streams = m.data(ctx, epoch)
        for s in streams.values():
            s.start(epoch, start_iter)
        _run_iterations(ctx, streams, epoch, start_iter, scaler, ckpt_path, engine_state)
        start_iter = 0
        ctx.close_streams()
        m.epoch_end(ctx, epoch)
        ctx.iteration = cfg.iters
        means = {k: v / max(engine_state["count"], 1) for k, v in engine_state["sums"].items()}
        epoch_metrics: dict[str, Any] = dict(means)
        last = epoch == cfg.epochs - 1
        scheduled = bool(cfg.eval_every) and (epoch + 1) % cfg.eval_every == 0
        if cfg.select == "val" and (scheduled or last or not cfg.eval_every):
            _select_on_validation(ctx, epoch, engine_state)
        if scheduled or last:
            if cfg.eval_every and not last:
                last_eval = evaluate_nets(ctx, m.eval_models(), cfg.eval_on, "test")
                epoch_metrics["eval"] = last_eval
        if ctx.is_main:
            ctx.log.info("[%s] * Finished epoch %3d  %s", ctx.name, epoch,
                         "  ".join(f"{k}: {v:.4f}" for k, v in means.items()))
            run.recorder.write({"kind": "epoch", "stage": ctx.name, "epoch": epoch, **means})
            run.recorder.scalars(f"{ctx.name}/epoch", means, epoch)
            run.recorder.flush()
        run.hooks.reid_epoch_finish(ctx=ctx, epoch=epoch, metrics=epoch_metrics)
        _save_checkpoint(ctx, ckpt_path, epoch + 1, 0, scaler, engine_state)
    return _finish_training(ctx, engine_state)


def _run_iterations(ctx: StageContext, streams: dict[str, Any], epoch: int, start_iter: int,
                    scaler: Any, ckpt_path: Path, engine_state: dict[str, Any]) -> None:
    m = ctx.method
    assert m is not None
    cfg, run = ctx.stage, ctx.run
    rc = ctx.config.run
    progress = Progress(cfg.iters, f"{ctx.name} ep {epoch}", ctx.is_main and rc.progress,
                        initial=start_iter)
    try:
        for it in range(start_iter, cfg.iters):
            ctx.iteration = it
            run.hooks.reid_iteration_start(ctx=ctx, epoch=epoch, iteration=it)
            batch = to_device({k: s.next() for k, s in streams.items()}, ctx.device)
            opts = m.optimizers()
            for opt in opts.values():
                opt.zero_grad(set_to_none=True)
            with ctx.autocast():
                losses = m.train_step(ctx, batch)
            if "loss" not in losses:
                raise RunError(f"method {m.name!r}: train_step must return a 'loss' entry")
            loss = losses["loss"]
            if not torch.isfinite(loss.detach()):
                raise RunError(f"[{ctx.name}] non-finite loss {float(loss)} at epoch {epoch} "
                               f"iteration {it}")
            scaler.scale(loss).backward()
            _dist.average_gradients(_params(opts))
            for opt in opts.values():
                scaler.step(opt)
            scaler.update()
            m.after_step(ctx)
            values = {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v)
                      for k, v in losses.items()}
            for k, v in values.items():
                engine_state["sums"][k] = engine_state["sums"].get(k, 0.0) + v
            engine_state["count"] += 1
            run.hooks.reid_iteration_finish(ctx=ctx, epoch=epoch, iteration=it, losses=values)
            lr = _lr(opts)
            rate = progress.update(_batch_images(batch) * ctx.world.size, values["loss"], lr)
            if ctx.is_main and rc.log_every and (it + 1) % rc.log_every == 0:
                ctx.log.info("[%s] epoch %d iter %d/%d  %s  lr %.2e  %.1f img/s", ctx.name,
                             epoch, it + 1, cfg.iters,
                             "  ".join(f"{k} {v:.4f}" for k, v in values.items()), lr, rate)
                ctx.log_scalars({**values, "lr": lr, "images_per_s": rate})
            if rc.checkpoint_every and (it + 1) % rc.checkpoint_every == 0 and it + 1 < cfg.iters:
                _save_checkpoint(ctx, ckpt_path, epoch, it + 1, scaler, engine_state)
    finally:
        progress.close()


def _select_on_validation(ctx: StageContext, epoch: int, engine_state: dict[str, Any]) -> None:
    m = ctx.method
    assert m is not None
    dname = ctx.stage.eval_on[0]
    res = evaluate_nets(ctx, m.eval_models(), [dname], "val")
    (key, per_net), = res.items()
    best_net = max(per_net, key=lambda k: per_net[k]["mAP"])
    score = per_net[best_net]["mAP"]
    sel = engine_state.get("selection")
    if sel is None or score > sel["val_mAP"]:
        engine_state["selection"] = {"rule": "val", "dataset": key, "epoch": epoch,
                                     "model": best_net, "val_mAP": score}
        save_model_artifact(ctx, m.eval_models(), ctx.stage_dir / "best.pt")


def _finish_training(ctx: StageContext, engine_state: dict[str, Any]) -> dict[str, Any]:
    m = ctx.method
    assert m is not None
    cfg = ctx.stage
    if cfg.select == "val" and engine_state.get("selection"):
        sel = engine_state["selection"]
        best = ctx.stage_dir / "best.pt"
        _, states = read_model_artifact(best)
        for name, net in m.eval_models().items():
            # the stage's own file: exactly its networks, whatever their ``arch`` attribute says
            checkpoint.load_state_strict(net, states[name], f"network {name!r} of {best}")
    else:
        sel = {"rule": "last", "epoch": cfg.epochs - 1,
               "note": "the last epoch's networks; no test set was used for selection"}
    final = evaluate_nets(ctx, m.eval_models(), cfg.eval_on, "test", epoch=cfg.epochs - 1)
    artifacts = {k: str(v) for k, v in m.export(ctx).items()}
    if ctx.is_main:
        (ctx.stage_dir / "selection.json").write_text(json.dumps(sel, indent=2))
    return {"metrics": final, "artifacts": artifacts, "selection": sel}


def finite(x: float) -> bool:
    return math.isfinite(x)
