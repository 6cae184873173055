"""What a run writes: the human-readable log, ``metrics.jsonl``, TensorBoard events, progress bar.

Only the main rank writes files and shows the bar; other ranks log warnings to stderr.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

LOGGER_NAME = "reid"


def setup_logging(run_dir: Path | None, is_main: bool, rank: int) -> logging.Logger:
    """The ``reid`` logger: ``log.txt`` in the run directory plus the console (main rank)."""
    log = logging.getLogger(LOGGER_NAME)
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    log.setLevel(logging.INFO)
    log.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(
        logging.Formatter("%(message)s" if is_main else f"[rank {rank}] %(message)s"))
    console.setLevel(logging.INFO if is_main else logging.WARNING)
    log.addHandler(console)
    if run_dir is not None and is_main:
        fh = logging.FileHandler(run_dir / "log.txt", encoding="utf-8")
        fh.setFormatter(fmt)
        log.addHandler(fh)
    return log


def close_logging() -> None:
    log = logging.getLogger(LOGGER_NAME)
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", 0) == 0:
        x = x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


class Recorder:
    """``metrics.jsonl`` lines and TensorBoard scalars (main rank; no-ops elsewhere)."""

    def __init__(self, run_dir: Path | None, enabled: bool) -> None:
        self.enabled = enabled and run_dir is not None
        self.path = run_dir / "metrics.jsonl" if run_dir is not None else None
        self._tb: Any = None
        self._tb_failed = False
        self._run_dir = run_dir

    def write(self, record: dict[str, Any]) -> None:
        """Append one JSON line (``time`` added)."""
        if not self.enabled or self.path is None:
            return
        rec = {"time": round(time.time(), 3), **_plain(record)}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")

    def scalars(self, prefix: str, values: dict[str, Any], step: int) -> None:
        """TensorBoard scalars ``prefix/key`` at global step ``step`` (numbers only)."""
        tb = self._writer()
        if tb is None:
            return
        for k, v in values.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if math.isfinite(float(v)):
                tb.add_scalar(f"{prefix}/{k}", float(v), step)

    def _writer(self) -> Any:
        if not self.enabled or self._tb_failed:
            return None
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except Exception as exc:  # tensorboard missing or broken: keep the run going
                logging.getLogger(LOGGER_NAME).warning(
                    "TensorBoard events disabled (%s: %s)", type(exc).__name__, exc)
                self._tb_failed = True
                return None
            assert self._run_dir is not None
            self._tb = SummaryWriter(log_dir=str(self._run_dir / "tb"))
        return self._tb

    def flush(self) -> None:
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


class Progress:
    """A tqdm bar on the main rank: loss, lr, images/s and ETA (tqdm computes the ETA)."""

    def __init__(self, total: int, desc: str, enabled: bool, initial: int = 0) -> None:
        self.bar: Any = None
        self._t0 = time.perf_counter()
        self._images = 0
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True,
                            leave=False, file=sys.stderr, mininterval=0.5)

    def update(self, images: int, loss: float, lr: float) -> float:
        """Advance one iteration; returns the images/s since the bar started."""
        self._images += images
        rate = self._images / max(time.perf_counter() - self._t0, 1e-9)
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss={loss:.3f} lr={lr:.2e} img/s={rate:.1f}",
                                     refresh=False)
            self.bar.update(1)
        return rate

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def format_metrics(name: str, m: dict[str, Any]) -> str:
    """open-reid style block: ``Mean AP`` then CMC scores (ANCHORS, metric dialects)."""
    lines = [f"{name}:", f"  Mean AP: {100 * m['mAP']:.1f}%", "  CMC Scores:"]
    for k in (1, 5, 10):
        key = f"rank{k}"
        if key in m and m[key] is not None:
            lines.append(f"    top-{k:<10d}{100 * m[key]:.1f}%")
    if m.get("mINP") is not None:
        lines.append(f"  mINP: {100 * m['mINP']:.1f}%")
    return "\n".join(lines)
