from __future__ import annotations

from pathlib import Path

import pytest

from reid_data.testing import make_market


@pytest.fixture
def market_root(tmp_path: Path) -> Path:
    make_market(tmp_path)
    return tmp_path
