"""A CPU run killed with SIGKILL mid-epoch resumes to the same weights and metrics."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from reid_runner.testing import assert_resumes_exactly_after_sigkill

pytestmark = pytest.mark.slow


def test_sigkill_mid_epoch_then_resume(tmp_path: Path, config: dict[str, Any]) -> None:
    raw = copy.deepcopy(config)
    raw["run"]["checkpoint_every"] = 1
    raw["stages"]["pretrain"].update(iters=3, random_erasing=0.5)
    raw["model"]["options"] = {"dropout": 0.5}  # RNG inside the network too
    raw["stages"]["eval"] = {"method": "evaluate", "inputs": {"model": "pretrain.model"},
                             "eval_on": ["target"]}
    # bitwise: pretrain's and eval's metrics, pretrain's weights, every logged loss
    assert_resumes_exactly_after_sigkill(raw, tmp_path, stage="pretrain", kill_at=(1, 1))
