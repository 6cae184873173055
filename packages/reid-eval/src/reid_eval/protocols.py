"""Evaluation protocols (``market``, ``visda``) and the protocol interface and registry.

A protocol is a class with a unique ``name`` registered through ``reid_register_protocols``.
Instances are created with protocol options and called generically by the runner::

    proto = create_protocol("market")
    result = proto.evaluate(query_feats, gallery_feats, query_samples, gallery_samples, pm=pm)

Samples are any sequences of ``(path, pid, camid[, modality])`` tuples (reid-data's ``Sample``
NamedTuple fits; a ``modality`` attribute is read when present).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from reid_eval.distances import make_context
from reid_eval.evaluate import distance_chunks, rank_from_context, sample_fields, top_indices

COMMON_OPTIONS = ("metric", "normalize_features", "rerank", "max_rank", "extras", "device")


class EvalProtocol:
    """Base class of evaluation protocols.

    Subclasses set ``name`` and implement :meth:`evaluate`. Constructor keyword arguments are
    defaults for :meth:`evaluate`'s ``**options``; unknown options raise a ``ValueError`` that
    lists the valid ones (``OPTIONS`` + the common ones: metric, normalize_features, rerank,
    max_rank, extras, device).
    """

    name: ClassVar[str] = ""
    OPTIONS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        self.options = self._check(options)

    def _check(self, options: dict[str, Any]) -> dict[str, Any]:
        valid = set(COMMON_OPTIONS) | set(self.OPTIONS)
        unknown = sorted(set(options) - valid)
        if unknown:
            raise ValueError(
                f"unknown option(s) {unknown} for protocol {self.name!r}; choices: {sorted(valid)}"
            )
        return dict(options)

    def _opts(self, options: dict[str, Any]) -> dict[str, Any]:
        return {**self.options, **self._check(options)}

    def evaluate(
        self,
        query_feats: Any,
        gallery_feats: Any,
        query_samples: Sequence[Any],
        gallery_samples: Sequence[Any],
        *,
        pm: Any = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Metrics dict (``mAP``, ``cmc``, ``mINP``, ``protocol``, ... ) of one evaluation."""
        raise NotImplementedError

    @staticmethod
    def _context(qf: Any, gf: Any, qs: Sequence[Any], gs: Sequence[Any], o: dict[str, Any]) -> Any:
        return make_context(
            qf, gf, metric=o.get("metric", "sqeuclidean"),
            normalize_features=o.get("normalize_features", True),
            query_samples=qs, gallery_samples=gs, extras=o.get("extras"), device=o.get("device"),
        )


class MarketProtocol(EvalProtocol):
    """Market-1501 / Duke / MSMT17 / VeRi protocol (METHODS §10.1).

    Same-pid-same-camera gallery items are removed (nothing when camera ids are missing:
    ``camera_filter`` is then False), queries without a valid match are skipped, first-match
    CMC, mAP over all matches, mINP. Evaluated in query chunks from features.
    """

    name = "market"

    def evaluate(self, query_feats: Any, gallery_feats: Any, query_samples: Sequence[Any],
                 gallery_samples: Sequence[Any], *, pm: Any = None, **options: Any) -> dict[str, Any]:
        o = self._opts(options)
        qp, qc, _, _ = sample_fields(query_samples, "query_samples")
        gp, gc, _, _ = sample_fields(gallery_samples, "gallery_samples")
        ctx = self._context(query_feats, gallery_feats, query_samples, gallery_samples, o)
        if qc is None or gc is None:
            qc = gc = None
        stats, out = rank_from_context(ctx, qp, gp, qc, gc, pm=pm, rerank=o.get("rerank"))
        out.update(stats.metrics(o.get("max_rank", 50)))
        out["protocol"] = self.name
        return out


def write_submission(ranked: np.ndarray, path: str | Path) -> Path:
    """One line per query: its ranked gallery indices (0-based), space separated."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        for row in ranked:
            fh.write(" ".join(str(int(i)) for i in row) + "\n")
    return path


class VisdaProtocol(EvalProtocol):
    """VisDA-2020 ``target_validation`` scoring and submission file (METHODS §10.2).

    Same-pid-same-camera removal; ``mAP`` is the CodaLab top-``top`` AP (sum of precision at the
    hits within the top 100 kept items / max(1, #those hits); 0 when none; queries without any
    valid match skipped); ``mAP_all`` is the devkit's AP over all matches; CMC truncated to
    rank 50. Options: ``submission`` (path: write the 100 best gallery indices per query, no
    removal, query order), ``compute_metrics`` (False for the unlabelled test split), ``top``.
    """

    name = "visda"
    OPTIONS = ("submission", "compute_metrics", "top")

    def evaluate(self, query_feats: Any, gallery_feats: Any, query_samples: Sequence[Any],
                 gallery_samples: Sequence[Any], *, pm: Any = None, **options: Any) -> dict[str, Any]:
        o = self._opts(options)
        top = int(o.get("top", 100))
        qp, qc, _, _ = sample_fields(query_samples, "query_samples")
        gp, gc, _, _ = sample_fields(gallery_samples, "gallery_samples")
        ctx = self._context(query_feats, gallery_feats, query_samples, gallery_samples, o)
        out: dict[str, Any] = {"protocol": self.name}
        if o.get("submission"):
            ranked = top_indices(distance_chunks(ctx, pm, o.get("rerank")), ctx.num_query, top)
            out["submission"] = str(write_submission(ranked, o["submission"]))
        if o.get("compute_metrics", True):
            if qc is None or gc is None:
                qc = gc = None
            stats, flags = rank_from_context(ctx, qp, gp, qc, gc, pm=pm, rerank=o.get("rerank"), top=top)
            out.update(flags)
            m = stats.metrics(min(50, int(o.get("max_rank", 50))))
            valid = stats.valid
            out.update(m)
            out["mAP_all"] = m["mAP"]
            out["mAP"] = float(np.mean(stats.ap_top[valid]))  # type: ignore[index]
            out["top"] = top
        return out


def protocol_registry(pm: Any = None) -> Any:
    """The protocol :class:`reid_plugin.Registry` of ``pm`` (default: a core-only manager)."""
    from reid_plugin import Registry, make_plugin_manager

    return Registry.from_hook(pm or make_plugin_manager(), "reid_register_protocols", "protocol")


def create_protocol(name: str, pm: Any = None, **options: Any) -> EvalProtocol:
    """An instance of protocol ``name``; unknown names raise an error listing the choices."""
    return protocol_registry(pm).create(name, **options)  # type: ignore[no-any-return]


def list_protocols(pm: Any = None) -> list[str]:
    """Names of the registered protocols, sorted."""
    return list(protocol_registry(pm).names())
