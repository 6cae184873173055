"""`reid demo` composes the installed plugins' rows into one run and one table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_quick_json(tmp_path: Path) -> None:
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "reid_runner", "demo", "--quick", "--json", "--threads", "1",
           "--out-dir", str(tmp_path / "runs"), "--cache", str(tmp_path / "cache")]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    assert res.returncode == 0, res.stderr[-5000:]
    rows = json.loads(res.stdout)["rows"]  # stdout holds only the JSON; progress is on stderr
    methods = [r["method"] for r in rows]
    assert methods[0] == "direct-transfer" and methods[-1] == "supervised-target"
    assert {"cluster-baseline", "mmt"} <= set(methods)
    for r in rows:
        assert set(r) == {"method", "mAP", "rank1", "rank5"}
        assert 0.0 <= r["mAP"] <= 1.0 and 0.0 <= r["rank1"] <= r["rank5"] <= 1.0
    run_dir = tmp_path / "runs" / "demo"
    assert json.loads((run_dir / "demo.json").read_text())["rows"] == rows
    assert "threads: 1\n" in (run_dir / "config.yaml").read_text()  # --threads reaches run.threads
    assert any(json.loads(line)["kind"] == "pseudo_labels"
               for line in (run_dir / "metrics.jsonl").read_text().splitlines())
    # a second call reuses every finished stage and the cached data
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["rows"] == rows
    assert "already finished, skipped" in again.stderr
