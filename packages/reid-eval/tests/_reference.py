"""Straightforward reference implementations (full argsort + per-query loop) for the tests.

Written from the published algorithms (torchreid's Python ``eval_market1501``, the AGW/DDAG
``eval_sysu``, Zhong et al.'s dense ``re_ranking``); sorts are stable so ties are deterministic.
"""

from __future__ import annotations

import numpy as np


def eval_market(distmat, q_pids, g_pids, q_camids=None, g_camids=None, max_rank=50, top=None):
    indices = np.argsort(distmat, axis=1, kind="stable")
    matches = (g_pids[indices] == q_pids[:, None]).astype(np.int32)
    all_cmc, all_ap, all_inp, all_ap_top = [], [], [], []
    for q in range(len(q_pids)):
        order = indices[q]
        if q_camids is not None:
            keep = ~((g_pids[order] == q_pids[q]) & (g_camids[order] == q_camids[q]))
        else:
            keep = np.ones(len(order), bool)
        raw = matches[q][keep]
        if not raw.any():
            continue
        cmc = raw.cumsum()
        pos = np.where(raw == 1)[0]
        all_inp.append(cmc[pos.max()] / (pos.max() + 1.0))
        c = cmc.copy()
        c[c > 1] = 1
        c = np.concatenate([c, np.ones(max(0, max_rank - len(c)))])
        all_cmc.append(c[:max_rank])
        prec = cmc / np.arange(1, len(cmc) + 1)
        all_ap.append((prec * raw).sum() / raw.sum())
        if top is not None:
            r = raw[:top]
            all_ap_top.append((prec[:top] * r).sum() / max(1, r.sum()))
    out = {"cmc": np.mean(all_cmc, 0), "mAP": np.mean(all_ap), "mINP": np.mean(all_inp),
           "num_valid_queries": len(all_ap)}
    if top is not None:
        out["mAP_top"] = np.mean(all_ap_top)
    return out


def eval_sysu(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=20):
    """AGW's eval_sysu with raw camera numbers (cam3 queries drop cam2 gallery)."""
    num_q = len(q_pids)
    indices = np.argsort(distmat, axis=1, kind="stable")
    pred_label = g_pids[indices]
    matches = (g_pids[indices] == q_pids[:, None]).astype(np.int32)
    new_all_cmc, all_ap, all_inp = [], [], []
    for q in range(num_q):
        order = indices[q]
        keep = ~((q_camids[q] == 3) & (g_camids[order] == 2))
        new_cmc = pred_label[q][keep]
        new_index = np.unique(new_cmc, return_index=True)[1]
        new_cmc = np.array([new_cmc[i] for i in sorted(new_index)])
        new_match = (new_cmc == q_pids[q]).astype(np.int32).cumsum()
        new_match = np.concatenate([new_match, np.full(max(0, max_rank - len(new_match)), new_match[-1])])
        new_all_cmc.append(new_match[:max_rank])
        orig = matches[q][keep]
        if not orig.any():
            continue
        cmc = orig.cumsum()
        pos = np.where(orig == 1)[0]
        all_inp.append(cmc[pos.max()] / (pos.max() + 1.0))
        prec = cmc / np.arange(1, len(cmc) + 1)
        all_ap.append((prec * orig).sum() / orig.sum())
    return {"cmc": np.sum(new_all_cmc, 0) / num_q, "mAP": np.mean(all_ap), "mINP": np.mean(all_inp)}
