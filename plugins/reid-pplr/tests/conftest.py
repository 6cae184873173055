from __future__ import annotations

import pytest
import torch


def pytest_configure(config: pytest.Config) -> None:
    # One intra-op thread: on a shared 2-core machine two threads spin against each other.
    torch.set_num_threads(1)
    config.addinivalue_line("markers", "slow: end-to-end runs (still run by default)")
