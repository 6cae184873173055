from __future__ import annotations

import pytest
import torch


def pytest_configure(config: pytest.Config) -> None:
    # One intra-op thread: on a shared 2-core machine two threads spin against each other and
    # make small CPU forwards/backwards 10-50x slower.
    torch.set_num_threads(1)
    config.addinivalue_line("markers", "slow: big architectures / multi-process (still run)")


@pytest.fixture(scope="session")
def pm():
    from reid_plugin import make_plugin_manager

    return make_plugin_manager()


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
