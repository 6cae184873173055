"""Reports: metrics JSON, a console table, a CMC-curve PNG and a rank-list PNG.

Plots use matplotlib with the Agg backend (no display needed); the rank list reads images with
Pillow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TABLE_RANKS = (1, 5, 10)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    return x


def summary(result: dict[str, Any], ranks: Sequence[int] = TABLE_RANKS) -> dict[str, float]:
    """``{"mAP", "Rank-1", "Rank-5", "Rank-10", "mINP"}`` (fractions) from a result dict."""
    cmc = np.asarray(result["cmc"])
    out = {"mAP": float(result["mAP"])}
    for r in ranks:
        if r <= len(cmc):
            out[f"Rank-{r}"] = float(cmc[r - 1])
    if "mINP" in result:
        out["mINP"] = float(result["mINP"])
    return out


def write_metrics_json(result: dict[str, Any], path: str | Path, *, per_query: bool = False) -> Path:
    """Write the result (numpy converted, per-query arrays dropped unless ``per_query``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in result.items() if per_query or not k.startswith("query_")}
    data["summary"] = summary(result)
    path.write_text(json.dumps(_jsonable(data), indent=2) + "\n")
    return path


def format_table(results: dict[str, dict[str, Any]] | dict[str, Any], title: str = "") -> str:
    """A pipe table ``| name | mAP | Rank-1 | Rank-5 | Rank-10 | mINP |`` in percent (.2f).

    ``results`` is one result dict or ``{row name: result dict}``.
    """
    if "cmc" in results:
        results = {title or str(results.get("protocol", "result")): results}
    cols = ["mAP", *(f"Rank-{r}" for r in TABLE_RANKS), "mINP"]
    lines = ["| name | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, res in results.items():
        s = summary(res)
        cells = [f"{100 * s[c]:.2f}" if c in s else "-" for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_cmc(results: dict[str, dict[str, Any]] | dict[str, Any], path: str | Path, *, max_rank: int | None = None,
             title: str = "CMC") -> Path:
    """Save a CMC-curve PNG (one curve per result)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "cmc" in results:
        results = {str(results.get("protocol", "result")): results}
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    for name, res in results.items():
        cmc = np.asarray(res["cmc"])[: max_rank or None]
        ax.plot(np.arange(1, len(cmc) + 1), 100 * cmc, marker=".", label=f"{name} (R1 {100 * cmc[0]:.1f}%)")
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _thumb(path: Any, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB").resize(size))
    except (OSError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"cannot read image {path!r} for the rank list: {exc}") from exc


def plot_ranklist(
    distmat: Any,
    query_samples: Sequence[Any],
    gallery_samples: Sequence[Any],
    path: str | Path,
    *,
    queries: Sequence[int] | None = None,
    topk: int = 10,
    remove_same_camera: bool = True,
    thumb_size: tuple[int, int] = (64, 128),
) -> Path:
    """Save a rank-list PNG: each chosen query, then its ``topk`` gallery images.

    Correct matches (same pid) are framed green, wrong ones red; the query is framed grey.
    Gallery items with the query's pid and camera are skipped as the Market protocol does
    (``remove_same_camera=False`` to show them). ``queries`` defaults to the first 5.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    d = np.asarray(distmat)
    qs = list(queries) if queries is not None else list(range(min(5, len(query_samples))))
    fig, axes = plt.subplots(len(qs), topk + 1, figsize=(1.1 * (topk + 1), 2.1 * len(qs)), dpi=100,
                             squeeze=False)
    for r, qi in enumerate(qs):
        q = query_samples[qi]
        order = np.argsort(d[qi], kind="stable")
        if remove_same_camera and q[2] is not None:
            order = [g for g in order if not (gallery_samples[g][1] == q[1] and gallery_samples[g][2] == q[2])]
        cells = [(q, "grey", f"query\npid {q[1]}")]
        for k, g in enumerate(order[:topk]):
            s = gallery_samples[g]
            cells.append((s, "lime" if s[1] == q[1] else "red", f"{k + 1}: pid {s[1]}"))
        for c, ax in enumerate(axes[r]):
            ax.axis("off")
            if c >= len(cells):
                continue
            s, colour, label = cells[c]
            img = _thumb(s[0], thumb_size)
            ax.imshow(img)
            h, w = img.shape[:2]
            ax.add_patch(Rectangle((0, 0), w - 1, h - 1, fill=False, edgecolor=colour, linewidth=4))
            ax.set_title(label, fontsize=7)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
