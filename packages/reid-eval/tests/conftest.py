from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[3]
# The reference outputs live in the team's shared/ folder beside the clone (CI has it there);
# REID_ORACLES points elsewhere. REID_REQUIRE_ORACLES=1 (set by .ci/run) turns a skip into a failure.
ORACLES = Path(os.environ.get("REID_ORACLES", REPO.parent / "shared" / "oracles"))


def oracle(name: str) -> dict:
    path = ORACLES / name
    if not path.exists():
        if os.environ.get("REID_REQUIRE_ORACLES"):
            pytest.fail(f"oracle file {path} not found (set REID_ORACLES)")
        pytest.skip(f"oracle file {path} not available")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def clustered(rng, n_ids, pids, cams, dim=16, noise=0.8):
    """L2-normalised features clustered around identity centres plus a camera offset."""
    centres = rng.standard_normal((n_ids + 1, dim))
    cam_off = rng.standard_normal((max(cams) + 1, dim)) * 0.3
    f = centres[pids] + cam_off[cams] + noise * rng.standard_normal((len(pids), dim))
    return (f / np.linalg.norm(f, axis=1, keepdims=True)).astype(np.float32)
