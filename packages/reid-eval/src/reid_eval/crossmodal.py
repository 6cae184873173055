"""Cross-modality protocols: SYSU-MM01 (``sysu``) and RegDB (``regdb``) (METHODS §7.6).

SYSU-MM01, as the official AGW/DDAG code: query = IR images (cam3, cam6) of the test ids;
gallery per trial = for every test id and RGB camera (all-search cam1/2/4/5, indoor cam1/2) one
image drawn with Python's ``random.seed(trial)`` (ids ascending, cameras in that order, files
sorted by path), or 10 images in multi-shot; 10 trials averaged; for cam3 queries cam2 gallery
images are discarded; CMC de-duplicates the ranked gallery identities (first occurrence) and is
divided by the number of queries; mAP / mINP use the standard ranked list over valid queries.

Camera numbers: SYSU's raw cameras are 1..6; samples carry 0-based camids by default
(``camid = camN - 1``); pass ``camid_base=1`` when they carry the raw numbers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from reid_eval.distances import compute_distance_matrix
from reid_eval.evaluate import rank_from_context, sample_fields
from reid_eval.protocols import EvalProtocol
from reid_eval.ranking import RemovalRule, as_distance, dense_chunks, rank_stats

SYSU_CAMERAS = {"all": (1, 2, 4, 5), "indoor": (1, 2)}
VISIBLE = {"visible", "rgb", "vis", "v"}
THERMAL = {"thermal", "ir", "infrared", "nir", "t"}


def mean_of_trials(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean of ``mAP``, ``mINP`` and ``cmc`` over per-trial results (trials kept in ``trials``)."""
    if not results:
        raise ValueError("no trial results to average")
    return {
        "mAP": float(np.mean([r["mAP"] for r in results])),
        "mINP": float(np.mean([r["mINP"] for r in results])),
        "cmc": np.mean([np.asarray(r["cmc"]) for r in results], axis=0),
        "num_trials": len(results),
        "trials": list(results),
    }


def dedup_cmc(distmat: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray, removed: np.ndarray | None,
              max_rank: int) -> np.ndarray:
    """SYSU's CMC: rank of the query id among the de-duplicated ranked gallery ids / #queries."""
    Q, G = distmat.shape
    order = np.argsort(distmat, axis=1)
    sp = g_pids[order]
    kept = np.ones_like(sp, dtype=bool) if removed is None else ~np.take_along_axis(removed, order, 1)
    _, pid_code = np.unique(sp, return_inverse=True)
    codes = pid_code.reshape(Q, G) + (np.arange(Q) * (pid_code.max() + 1))[:, None]
    flat = codes[kept]  # row-major: within a row in ranked order
    first = np.zeros(flat.size, dtype=bool)
    first[np.unique(flat, return_index=True)[1]] = True
    distinct = np.zeros_like(sp, dtype=np.int64)
    distinct[kept] = first
    distinct = np.cumsum(distinct, axis=1)  # distinct ids up to each position
    hit = (sp == q_pids[:, None]) & kept
    has = hit.any(1)
    rank = np.where(has, np.take_along_axis(distinct, hit.argmax(1)[:, None], 1)[:, 0], 0)
    counts = np.bincount(np.minimum(rank[has], max_rank + 1) - 1, minlength=max_rank + 1)
    return np.cumsum(counts[:max_rank]) / Q


def _kind(modality: Any) -> str | None:
    m = str(modality).lower() if modality is not None else None
    return "visible" if m in VISIBLE else "thermal" if m in THERMAL else None


class SysuProtocol(EvalProtocol):
    """SYSU-MM01 IR->RGB evaluation over seeded gallery trials (see module docstring).

    ``gallery_samples`` is the pool of all RGB test images (the protocol draws each trial's
    gallery from it); ``query_samples`` the IR test images. Options: ``mode`` ("all" |
    "indoor"), ``shots`` (1 = single-shot, 10 = multi-shot), ``trials`` (10), ``camid_base``
    (0), ``max_rank`` (20 as the official code).
    """

    name = "sysu"
    OPTIONS = ("mode", "shots", "trials", "camid_base")

    def gallery_trial(self, gallery_samples: Sequence[Any], trial: int, mode: str = "all",
                      shots: int = 1, camid_base: int = 0) -> np.ndarray:
        """Indices into ``gallery_samples`` of trial ``trial``'s gallery, in the official order."""
        if mode not in SYSU_CAMERAS:
            raise ValueError(f"unknown SYSU mode {mode!r}; choices: {sorted(SYSU_CAMERAS)}")
        gp, gc, paths, _ = sample_fields(gallery_samples, "gallery_samples")
        if gc is None:
            raise ValueError("the SYSU protocol needs camera ids in gallery_samples")
        cam_no = gc + (1 - camid_base)
        groups: dict[tuple[int, int], list[int]] = {}
        for k, (p, c) in enumerate(zip(gp.tolist(), cam_no.tolist())):
            groups.setdefault((p, c), []).append(k)
        py_rng = random.Random(trial)  # == random.seed(trial) then random.choice
        np_rng = np.random.RandomState(trial)
        chosen: list[int] = []
        for pid in sorted({p for p, _ in groups}):
            for cam in SYSU_CAMERAS[mode]:
                members = groups.get((pid, cam))
                if not members:
                    continue
                members = sorted(members, key=lambda k: str(paths[k]))
                if shots == 1:
                    chosen.append(py_rng.choice(members))
                else:
                    take = np_rng.choice(len(members), min(shots, len(members)), replace=False)
                    chosen.extend(members[t] for t in take)
        return np.asarray(chosen, dtype=np.int64)

    def evaluate(self, query_feats: Any, gallery_feats: Any, query_samples: Sequence[Any],
                 gallery_samples: Sequence[Any], *, pm: Any = None, **options: Any) -> dict[str, Any]:
        o = self._opts(options)
        mode, shots = o.get("mode", "all"), int(o.get("shots", 1))
        base, max_rank = int(o.get("camid_base", 0)), int(o.get("max_rank", 20))
        if o.get("rerank"):
            raise ValueError("re-ranking is not part of the SYSU-MM01 protocol")
        qp, qc, _, _ = sample_fields(query_samples, "query_samples")
        gp, gc, _, _ = sample_fields(gallery_samples, "gallery_samples")
        if qc is None or gc is None:
            raise ValueError("the SYSU protocol needs camera ids in query and gallery samples")
        ctx = self._context(query_feats, gallery_feats, query_samples, gallery_samples, o)
        full = as_distance(compute_distance_matrix(ctx, pm).numpy())
        q_cam3 = (qc + (1 - base)) == 3
        results = []
        for trial in range(int(o.get("trials", 10))):
            sel = self.gallery_trial(gallery_samples, trial, mode, shots, base)
            d, g_pid, g_cam2 = full[:, sel], gp[sel], (gc[sel] + (1 - base)) == 2
            rule = RemovalRule(lambda qi, gi, g2=g_cam2: q_cam3[qi] & g2[gi], same_pid_only=False)
            stats = rank_stats(dense_chunks(d), qp, g_pid, rule)
            m = stats.metrics(max_rank)
            m["cmc"] = dedup_cmc(d, qp, g_pid, q_cam3[:, None] & g_cam2[None, :], max_rank)
            m.update(trial=trial, gallery_size=len(sel))
            results.append(m)
        out = mean_of_trials(results)
        out.update(protocol=self.name, mode=mode, shots=shots, cmc_kind="deduplicated",
                   camera_filter=True, num_queries=len(qp))
        return out


class RegdbProtocol(EvalProtocol):
    """RegDB, one trial: visible->thermal (default) or thermal->visible, standard CMC/mAP/mINP.

    No gallery item is removed (the two modalities have different cameras). Samples carrying a
    modality (``visible``/``rgb`` or ``thermal``/``ir``) are oriented by it: the set whose
    modality matches the direction's source becomes the query set; without modalities the given
    query set is taken as the source. ``direction``: "visible-thermal", "thermal-visible" or
    "both" (then the thermal->visible result is nested under "thermal-visible"). Average the 10
    per-split results with :meth:`aggregate`.
    """

    name = "regdb"
    OPTIONS = ("direction", "trial")
    DIRECTIONS = ("visible-thermal", "thermal-visible", "both")

    def evaluate(self, query_feats: Any, gallery_feats: Any, query_samples: Sequence[Any],
                 gallery_samples: Sequence[Any], *, pm: Any = None, **options: Any) -> dict[str, Any]:
        o = self._opts(options)
        direction = o.get("direction", "visible-thermal")
        if direction not in self.DIRECTIONS:
            raise ValueError(f"unknown RegDB direction {direction!r}; choices: {list(self.DIRECTIONS)}")
        if direction == "both":
            out = self.evaluate(query_feats, gallery_feats, query_samples, gallery_samples, pm=pm,
                                **{**o, "direction": "visible-thermal"})
            out["thermal-visible"] = self.evaluate(
                query_feats, gallery_feats, query_samples, gallery_samples, pm=pm,
                **{**o, "direction": "thermal-visible"})
            return out
        source = direction.split("-")[0]
        _, _, _, qm = sample_fields(query_samples, "query_samples")
        kinds = {_kind(m) for m in qm}
        given_source = kinds.pop() if len(kinds) == 1 else None
        swap = (given_source or "visible") != source
        if swap:
            query_feats, gallery_feats = gallery_feats, query_feats
            query_samples, gallery_samples = gallery_samples, query_samples
        qp, _, _, _ = sample_fields(query_samples, "query_samples")
        gp, _, _, _ = sample_fields(gallery_samples, "gallery_samples")
        ctx = self._context(query_feats, gallery_feats, query_samples, gallery_samples, o)
        stats, flags = rank_from_context(ctx, qp, gp, pm=pm, rerank=o.get("rerank"))
        out = {**flags, **stats.metrics(int(o.get("max_rank", 20)))}
        out.update(protocol=self.name, direction=direction)
        if o.get("trial") is not None:
            out["trial"] = o["trial"]
        return out

    @staticmethod
    def aggregate(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Mean over the per-trial results (METHODS §7.6: the mean of 10 trials is reported)."""
        out = mean_of_trials(results)
        out["protocol"] = "regdb"
        if "thermal-visible" in results[0]:
            out["thermal-visible"] = mean_of_trials([r["thermal-visible"] for r in results])
        return out
