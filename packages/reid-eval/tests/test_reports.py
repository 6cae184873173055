from __future__ import annotations

import json

import numpy as np
from PIL import Image

from reid_eval import evaluate_rank, format_table, plot_cmc, plot_ranklist, write_metrics_json


def _result():
    rng = np.random.default_rng(0)
    qp, gp = rng.integers(0, 5, 6), rng.integers(0, 5, 30)
    d = rng.random((6, 30)).astype(np.float32) + 0.5 * (qp[:, None] != gp[None, :])
    return d, qp, gp, evaluate_rank(d, qp, gp, max_rank=20, return_per_query=True)


def test_json_and_table(tmp_path):
    _, _, _, r = _result()
    path = write_metrics_json(r, tmp_path / "metrics.json")
    data = json.loads(path.read_text())
    assert data["mAP"] == r["mAP"] and len(data["cmc"]) == 20 and "query_ap" not in data
    assert set(data["summary"]) == {"mAP", "Rank-1", "Rank-5", "Rank-10", "mINP"}
    table = format_table({"market": r})
    assert table.splitlines()[0] == "| name | mAP | Rank-1 | Rank-5 | Rank-10 | mINP |"
    assert f"| market | {100 * r['mAP']:.2f} | {100 * r['cmc'][0]:.2f} |" in table


def test_pngs(tmp_path):
    d, qp, gp, r = _result()
    cmc_png = plot_cmc({"model A": r}, tmp_path / "cmc.png")
    assert Image.open(cmc_png).size[0] > 100
    colours = [(200, 60, 60), (60, 60, 200), (60, 160, 60), (200, 200, 60), (160, 60, 160)]

    def img(name, pid):
        p = tmp_path / "imgs" / name
        p.parent.mkdir(exist_ok=True)
        Image.new("RGB", (32, 64), colours[pid]).save(p)
        return str(p)

    qs = [(img(f"q{i}.png", int(p)), int(p), 0) for i, p in enumerate(qp)]
    gs = [(img(f"g{i}.png", int(p)), int(p), 1) for i, p in enumerate(gp)]
    out = plot_ranklist(d, qs, gs, tmp_path / "ranklist.png", queries=[0, 1, 2], topk=6)
    im = np.asarray(Image.open(out).convert("RGB"))
    assert im.shape[0] > 200 and im.shape[1] > 400
    green = ((im[..., 1] > 200) & (im[..., 0] < 80) & (im[..., 2] < 80)).sum()
    red = ((im[..., 0] > 200) & (im[..., 1] < 50) & (im[..., 2] < 50)).sum()
    assert green > 0 and red > 0  # both correct (green) and wrong (red) frames are drawn
