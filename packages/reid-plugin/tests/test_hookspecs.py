from __future__ import annotations

from pathlib import Path

from reid_plugin import hookspecs
from reid_plugin.testing import (
    assert_hooks_documented,
    assert_hooks_have_docstrings,
    assert_hooks_tested,
)

HERE = Path(__file__).parent


def test_hooks_documented() -> None:
    assert_hooks_documented(hookspecs, (HERE.parent / "README.md").read_text())
    assert_hooks_have_docstrings(hookspecs)


def test_hooks_tested() -> None:
    assert_hooks_tested(hookspecs, HERE)
