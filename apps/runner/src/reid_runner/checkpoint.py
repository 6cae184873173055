"""Checkpoints: atomic writes, ``weights_only`` loads, RNG capture, compatibility checks.

Everything in a checkpoint is a tensor or a plain container (dict, list, tuple, str, int, float,
bool, None), so it loads with ``torch.load(weights_only=True)``: no arbitrary unpickling.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: Format tag of resumable training checkpoints.
TRAIN_FORMAT = "reid-train-checkpoint/1"
#: Format tag of exported models (stage artifacts).
MODEL_FORMAT = "reid-model/1"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or belongs to another method or architecture."""


# --------------------------------------------------------------------------- files


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def load(path: str | Path, what: str = "checkpoint") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` onto the CPU; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{what} {path} cannot be loaded safely (weights_only=True): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"{what} {path} does not hold a mapping")
    return obj


def check_compatible(meta: dict[str, Any], expected: dict[str, Any], path: str | Path) -> None:
    """Raise if the checkpoint's ``meta`` disagrees with ``expected`` on any shared key."""
    diffs = [
        f"{k}: checkpoint has {meta.get(k)!r}, this stage has {v!r}"
        for k, v in expected.items()
        if k in meta and meta[k] != v
    ]
    if diffs:
        raise CheckpointError(
            f"checkpoint {path} was written by another method or architecture: " + "; ".join(diffs)
        )


def load_state_strict(module: torch.nn.Module, state: dict[str, Any], what: str) -> None:
    """``load_state_dict(strict=True)`` with an error that lists the mismatching keys briefly."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[:4]
        raise CheckpointError(
            f"{what} does not fit the network (another architecture or number of classes?): "
            + " | ".join(first)
        ) from exc


# --------------------------------------------------------------------------- RNG state


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA generator states as plain containers and tensors."""
    py = random.getstate()
    np_state = np.random.get_state()
    out: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], torch.from_numpy(np.asarray(np_state[1]).astype(np.int64)),
                  int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
