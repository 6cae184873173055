from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
ORACLES = Path(os.environ.get("REID_ORACLES", REPO.parent / "shared" / "oracles"))


def _load(name: str) -> dict[str, np.ndarray]:
    path = ORACLES / name
    if not path.exists():
        if os.environ.get("REID_REQUIRE_ORACLES"):
            pytest.fail(f"oracle {path} not found (set REID_ORACLES)")
        pytest.skip(f"oracle {path} not available")
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="session")
def jaccard_oracle() -> dict[str, np.ndarray]:
    return _load("jaccard_n2000.npz")


@pytest.fixture(scope="session")
def rerank_oracle() -> dict[str, np.ndarray]:
    return _load("rerank_q300_g1200.npz")


def _densify(j, fill: float = 1.0) -> np.ndarray:
    out = np.full(j.shape, fill, dtype=np.float32)
    c = j.tocoo()
    out[c.row, c.col] = c.data
    return out


@pytest.fixture(scope="session")
def densify():
    """Sparse Jaccard -> dense, absent entries = 1."""
    return _densify
