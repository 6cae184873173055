"""Contract helpers for the tests of the runner and of method plugins (STYLE #11).

A method plugin proves that its method resumes exactly and does not depend on the number of
processes by calling the same checks as the runner's own tests::

    from reid_runner.testing import assert_resumes_exactly_after_sigkill

    def test_resume(tmp_path, run_config):
        run_config["run"]["checkpoint_every"] = 1
        assert_resumes_exactly_after_sigkill(run_config, tmp_path, stage="mine")

Both checks run the config twice on CPU with one thread per process (the uninterrupted / 1-process
reference in this process, the other in subprocesses through ``python -m reid_runner``, so the
config's ``run.plugins`` must name the plugins by entry point) and compare the run directories.
They use plain ``assert`` (no pytest import) and return the two run directories for extra,
method-specific assertions. :func:`stage_context` builds a single-process :class:`StageContext`
for unit tests of code that takes ``ctx``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml

__all__ = [
    "METRIC_KEYS",
    "assert_resumes_exactly_after_sigkill",
    "assert_two_processes_equal_one",
    "read_records",
    "single_thread",
    "stage_context",
]

#: The metrics compared between two runs of the same stage.
METRIC_KEYS = ("mAP", "rank1", "rank5", "mINP")


def read_records(run_dir: str | Path, kind: str | None = None) -> list[dict[str, Any]]:
    """The ``metrics.jsonl`` records of a run (of one ``kind``), skipping a line being written."""
    path = Path(run_dir) / "metrics.jsonl"
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # the last line of a run still writing
            continue
        if kind is None or rec.get("kind") == kind:
            out.append(rec)
    return out


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """One torch thread, as in each ``OMP_NUM_THREADS=1`` subprocess: bitwise-comparable runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _write_config(raw: Mapping[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(json.loads(json.dumps(raw)), sort_keys=False))
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _run_dir(raw: Mapping[str, Any], tmp: Path, name: str) -> Path:
    return Path(raw.get("run", {}).get("out_dir", tmp / "runs")) / name


def _done(run_dir: Path, stage: str) -> dict[str, Any]:
    path = run_dir / "stages" / stage / "done.json"
    assert path.is_file(), f"stage {stage!r} did not finish: {path} is missing"
    return json.loads(path.read_text())


def _model_nets(run_dir: Path, stage: str) -> dict[str, dict[str, torch.Tensor]] | None:
    path = run_dir / "stages" / stage / "model.pt"
    if not path.is_file():
        return None
    return torch.load(path, weights_only=True)["nets"]  # type: ignore[no-any-return]


def _by_step(records: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Train records by ``(stage, epoch, iteration)``; the last one wins (re-run iterations)."""
    return {(r["stage"], r["epoch"], r["iteration"]): r for r in records}


def _close(a: float, b: float, rel: float, abs_: float) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def _compare_metrics(ref: dict[str, Any], other: dict[str, Any], what: str,
                     tol: float) -> None:
    assert ref.keys() == other.keys(), (what, sorted(ref), sorted(other))
    for dset, per in ref.items():
        assert per.keys() == other[dset].keys(), (what, dset, sorted(per), sorted(other[dset]))
        for net, m in per.items():
            for key in METRIC_KEYS:
                a, b = m[key], other[dset][net][key]
                ok = a == b if tol == 0 else _close(a, b, 0.0, tol)
                assert ok, f"{what}: {dset} {net} {key}: {a} != {b} (tolerance {tol})"


def _compare_nets(ref: dict[str, dict[str, torch.Tensor]],
                  other: dict[str, dict[str, torch.Tensor]], what: str, tol: float) -> None:
    assert ref.keys() == other.keys(), (what, sorted(ref), sorted(other))
    for net, state in ref.items():
        assert state.keys() == other[net].keys(), (what, net)
        for k, v in state.items():
            w = other[net][k]
            if tol == 0 or not v.is_floating_point():
                assert torch.equal(v, w), f"{what}: {net}.{k} differs"
            else:
                torch.testing.assert_close(v, w, rtol=tol, atol=tol, msg=f"{what}: {net}.{k}")


def _compare_labels(ref_dir: Path, other_dir: Path, keys: Sequence[str], what: str) -> None:
    def table(run_dir: Path) -> dict[tuple[Any, ...], dict[str, Any]]:
        return {(r["stage"], r["epoch"]): r for r in read_records(run_dir, "pseudo_labels")}

    ref, other = table(ref_dir), table(other_dir)
    assert ref.keys() == other.keys(), (what, sorted(ref), sorted(other))
    for step, r in ref.items():
        for key in keys:
            if key in r:
                assert r[key] == other[step].get(key), f"{what}: pseudo labels {step} {key}"


# --------------------------------------------------------------------------- exact resume


def assert_resumes_exactly_after_sigkill(
    raw: Mapping[str, Any],
    tmp_path: str | Path,
    *,
    stage: str,
    kill_at: tuple[int, int] = (1, 1),
    label_keys: Sequence[str] = ("num_clusters", "num_outliers"),
    timeout: float = 600.0,
) -> tuple[Path, Path]:
    """SIGKILL a CPU run in the middle of an epoch of ``stage``, resume it, compare.

    ``raw`` is a config whose ``run.checkpoint_every`` makes a checkpoint inside the epoch
    (``1`` for tiny runs) and whose ``stage`` has at least ``kill_at[1] + 2`` iterations. The
    reference runs uninterrupted in this process as ``run.name = "ref"``; the same config as
    ``"killed"`` runs in a subprocess killed once the train record of ``kill_at = (epoch,
    iteration)`` is written. Then it checks, all exactly (bitwise):

    * the checkpoint on disk is mid-epoch ``kill_at[0]`` and the stage is not done;
    * ``reid train`` without ``--resume`` refuses the unfinished stage (exit 2) and
      ``reid resume RUN_DIR`` finishes the run (exit 0);
    * every stage's exported networks (``model.pt``) and final metrics (:data:`METRIC_KEYS`);
    * every train record's losses (each ``(stage, epoch, iteration)``, re-run iterations
      included) and the ``label_keys`` of every pseudo-label record.

    Returns ``(reference run dir, resumed run dir)``.
    """
    from reid_runner.cli import main

    tmp = Path(tmp_path)
    raw = copy.deepcopy(dict(raw))
    ref = copy.deepcopy(raw)
    ref["run"]["name"] = "ref"
    raw["run"]["name"] = "killed"
    ref_dir, run_dir = _run_dir(ref, tmp, "ref"), _run_dir(raw, tmp, "killed")
    cfg = _write_config(raw, tmp / "killed.yaml")
    with single_thread():
        from reid_runner import execute

        execute(ref)
        proc = subprocess.Popen([sys.executable, "-m", "reid_runner", "train", str(cfg)],
                                cwd=tmp, env=_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        target = (stage, *kill_at)
        deadline = time.time() + timeout
        try:
            while target not in _by_step(read_records(run_dir, "train")):
                assert proc.poll() is None, (proc.stderr.read() if proc.stderr else "")[-5000:]
                assert time.time() < deadline, f"the run did not reach {target} in {timeout} s"
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        stage_dir = run_dir / "stages" / stage
        state = torch.load(stage_dir / "checkpoint.pt", weights_only=True)
        assert state["epoch"] == kill_at[0], state["epoch"]
        assert state["iteration"] in (kill_at[1], kill_at[1] + 1), state["iteration"]  # mid-epoch
        assert not (stage_dir / "done.json").exists()
        # the unfinished stage is refused without --resume; `reid resume` continues it
        assert main(["train", str(cfg)]) == 2
        assert main(["resume", str(run_dir)]) == 0

    for sname in ref["stages"]:
        _compare_metrics(_done(ref_dir, sname)["metrics"], _done(run_dir, sname)["metrics"],
                         f"stage {sname} metrics", 0.0)
        a, b = _model_nets(ref_dir, sname), _model_nets(run_dir, sname)
        assert (a is None) == (b is None), sname
        if a is not None and b is not None:
            _compare_nets(a, b, f"stage {sname} model.pt", 0.0)
    ref_losses = _by_step(read_records(ref_dir, "train"))
    res_losses = _by_step(read_records(run_dir, "train"))
    assert ref_losses.keys() == res_losses.keys()
    resumed = [k for k in ref_losses if k[0] == stage and k[1:] > kill_at]
    assert resumed, f"no train record of {stage!r} after {kill_at}: nothing was resumed"
    for step, r in ref_losses.items():
        for key, v in r.items():
            if isinstance(v, float) and key not in ("time", "images_per_s"):
                assert res_losses[step][key] == v, f"train record {step} {key}"
    _compare_labels(ref_dir, run_dir, label_keys, "resume")
    return ref_dir, run_dir


# --------------------------------------------------------------------------- world-size invariance


def assert_two_processes_equal_one(
    raw: Mapping[str, Any],
    tmp_path: str | Path,
    *,
    stage: str,
    loss_keys: Sequence[str] = ("loss",),
    loss_tol: tuple[float, float] = (1e-5, 1e-6),
    weight_tol: float | None = 1e-5,
    metric_tol: float = 1e-6,
    label_keys: Sequence[str] = ("num_clusters", "num_outliers"),
    timeout: float = 900.0,
) -> tuple[Path, Path]:
    """Run ``raw`` in 1 process (here) and in 2 gloo processes (``reid train --gpus 2``), compare.

    Set ``data.bn_batch`` so that each of the 2 processes normalises whole BN groups (e.g. 4 of
    a global batch of 8). Checks: the 2-process run really used 2 processes; ``stage``'s train
    records are the same ``(epoch, iteration)`` steps with ``loss_keys`` equal within
    ``loss_tol = (relative, absolute)``; its exported networks within ``weight_tol`` (``None``:
    not compared; integer buffers exactly); every stage's final metrics within ``metric_tol``;
    the ``label_keys`` of every pseudo-label record equal. Returns ``(one, two)`` run dirs.
    """
    from reid_runner import execute

    tmp = Path(tmp_path)
    one = copy.deepcopy(dict(raw))
    one["run"]["name"] = "one"
    two = copy.deepcopy(one)
    two["run"]["name"] = "two"
    one_dir, two_dir = _run_dir(one, tmp, "one"), _run_dir(two, tmp, "two")
    with single_thread():
        execute(one)
    cfg = _write_config(two, tmp / "two.yaml")
    res = subprocess.run([sys.executable, "-m", "reid_runner", "train", str(cfg), "--gpus", "2"],
                         cwd=tmp, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    assert "2 process(es)" in (two_dir / "log.txt").read_text()

    l1 = [r for r in read_records(one_dir, "train") if r["stage"] == stage]
    l2 = [r for r in read_records(two_dir, "train") if r["stage"] == stage]
    assert l1, f"stage {stage!r} wrote no train record"
    assert [(r["epoch"], r["iteration"]) for r in l1] == [(r["epoch"], r["iteration"]) for r in l2]
    for a, b in zip(l1, l2):
        for key in loss_keys:
            assert _close(a[key], b[key], *loss_tol), (key, a, b)
    if weight_tol is not None:
        w1, w2 = _model_nets(one_dir, stage), _model_nets(two_dir, stage)
        assert w1 is not None and w2 is not None, f"stage {stage!r} exported no model.pt"
        _compare_nets(w1, w2, f"stage {stage} model.pt", weight_tol)
    for sname in one["stages"]:
        _compare_metrics(_done(one_dir, sname)["metrics"], _done(two_dir, sname)["metrics"],
                         f"stage {sname} metrics", metric_tol)
    _compare_labels(one_dir, two_dir, label_keys, "1 vs 2 processes")
    return one_dir, two_dir


# --------------------------------------------------------------------------- a stage context


def stage_context(raw: Mapping[str, Any], run_dir: str | Path, *, stage: str | None = None,
                  plugins: Sequence[object] = ()) -> Any:
    """A single-process :class:`~reid_runner.StageContext` of ``stage`` (default: the first) of a
    validated ``raw`` config, on ``run.device``, writing into ``run_dir``: for unit tests of
    code that takes ``ctx`` (``ctx.create_model``, ``ctx.extract``, ``ctx.dataset``, ...)."""
    from reid_runner import _dist
    from reid_runner.context import RunInfo, StageContext
    from reid_runner.output import Recorder, setup_logging
    from reid_runner.run import prepare

    prep = prepare(raw, plugins)
    cfg = prep.config
    rdir = Path(run_dir)
    rdir.mkdir(parents=True, exist_ok=True)
    world = _dist.World()
    info = RunInfo(cfg, rdir, world, _dist.select_device(cfg.run.device, world), prep.pm,
                   setup_logging(rdir, True, 0), Recorder(rdir, True))
    name = stage or next(iter(cfg.stages))
    st = cfg.stages[name]
    ctx = StageContext(info, name, st, rdir / "stages" / name, {})
    ctx.method = prep.methods[st.method](st)
    return ctx
