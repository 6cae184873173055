"""Samples, the dataset base class and the detection of the three root conventions.

Every dataset split is a list of :class:`Sample` ``(path, pid, camid, modality)``; the official
loaders' ``(path, pid, camid)`` tuples are its first three fields (METHODS §0.1).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple


class Sample(NamedTuple):
    """One image: its path, identity, camera and (for RGB-IR data) modality.

    ``pid`` is relabelled to ``0..C-1`` in train splits where the official loader does so, kept raw
    in query/gallery (``0`` = distractor). ``camid`` is 0-based except where the dataset says
    otherwise (:attr:`ReidDataset.camid_base`); ``-1`` means unknown (the ``folder`` dataset without
    camera ids). ``modality`` is ``"rgb"`` or ``"ir"`` for SYSU-MM01/RegDB, else ``None``.
    """

    path: str
    pid: int
    camid: int
    modality: str | None = None


class DatasetLayoutError(FileNotFoundError):
    """A dataset folder or file is missing; the message names it and every path tried."""

    def __init__(self, message: str, *, expected: str = "", tried: Sequence[str] = ()) -> None:
        self.expected = expected
        self.tried = list(tried)
        super().__init__(message)


class Layout(NamedTuple):
    """One accepted on-disk layout: the original archive folder names and what must be inside."""

    label: str
    folders: tuple[str, ...]
    markers: tuple[str, ...]


def split_stats(samples: Iterable[Sample]) -> dict[str, int]:
    """``{"images": n, "ids": n, "cameras": n}`` of one split (ids count pid 0 distractors)."""
    samples = list(samples)
    return {
        "images": len(samples),
        "ids": len({s.pid for s in samples}),
        "cameras": len({s.camid for s in samples if s.camid >= 0}),
    }


def relabel(samples: list[Sample]) -> list[Sample]:
    """Map pids to ``0..C-1`` in ascending pid order.

    The official loaders enumerate a Python ``set`` of ints, which iterates in ascending order for
    the pid ranges of these datasets, so sorting reproduces their labels.
    """
    mapping = {pid: label for label, pid in enumerate(sorted({s.pid for s in samples}))}
    return [s._replace(pid=mapping[s.pid]) for s in samples]


class ReidDataset:
    """Base class of every dataset; subclasses set the class attributes and implement ``load``.

    Construct with ``cls(root, **options)``. ``root`` may be the parent of the original archive
    folder (``root/<Original>``), the parent of a key folder (``root/<key>/<Original>``) or the
    original folder itself; the first candidate holding the layout's marker entries wins and is
    stored in :attr:`dataset_dir`.

    Attributes after construction: ``train``, ``query``, ``gallery`` (lists of :class:`Sample`),
    ``extra_splits`` (named additional splits; :meth:`validation` finds the labelled validation
    pair among them), ``has_camids``, ``num_train_pids``,
    ``official_stats`` (expected ``split_stats`` per split, ``None`` fields unknown, or ``None``),
    ``layout`` (label of the detected :class:`Layout`) and ``notes`` (remarks ``reid data check``
    prints, e.g. which MSMT17 version was found).
    """

    #: The key users type (``create_dataset("market1501", ...)``).
    name: ClassVar[str] = ""
    #: Accepted layouts, tried in order.
    layouts: ClassVar[tuple[Layout, ...]] = ()
    #: Folder names of the ``root/<key>/<Original>`` convention.
    keys: ClassVar[tuple[str, ...]] = ()
    #: 0 when cameras are 0-based, 1 when kept 1-based as in the official loader (MSMT17, SYSU).
    camid_base: ClassVar[int] = 0
    #: True for RGB-IR datasets whose samples carry a modality.
    cross_modality: ClassVar[bool] = False

    def __init__(self, root: str | Path, **options: Any) -> None:
        if options:
            accepted = sorted(
                p for p in inspect.signature(type(self).__init__).parameters
                if p not in ("self", "root", "options")
            )
            listed = ", ".join(accepted) if accepted else "(none)"
            raise TypeError(
                f"dataset {self.name!r} got unknown option(s) {sorted(options)}; "
                f"accepted options: {listed}"
            )
        self.root = Path(root).expanduser()
        self.train: list[Sample] = []
        self.query: list[Sample] = []
        self.gallery: list[Sample] = []
        self.extra_splits: dict[str, list[Sample]] = {}
        self.has_camids: bool = True
        self.official_stats: dict[str, dict[str, int | None]] | None = None
        self.notes: list[str] = []
        self.layout, self.dataset_dir = self.resolve_root(self.root)
        self.load()

    # ------------------------------------------------------------------ root conventions
    def active_layouts(self) -> tuple[Layout, ...]:
        """The layouts to try (subclasses narrow this from their options)."""
        return self.layouts

    def candidate_dirs(self, root: Path, layout: Layout) -> list[Path]:
        """``root/<Original>``, ``root/<key>/<Original>``, then ``root`` itself, de-duplicated."""
        out: list[Path] = [root / f for f in layout.folders]
        out += [root / k / f for k in self.keys for f in layout.folders]
        out.append(root)
        seen: set[Path] = set()
        return [p for p in out if not (p in seen or seen.add(p))]

    def resolve_root(self, root: Path) -> tuple[str, Path]:
        """Find the dataset folder under ``root``; raise :class:`DatasetLayoutError` otherwise."""
        tried: list[str] = []
        for layout in self.active_layouts():
            for cand in self.candidate_dirs(root, layout):
                missing = [m for m in layout.markers if not (cand / m).exists()]
                if not missing:
                    return layout.label, cand
                if cand.is_dir():
                    tried.append(f"{cand} (exists, but lacks {', '.join(missing)})")
                else:
                    tried.append(f"{cand} (missing)")
        layouts = self.active_layouts()
        expected = " or ".join(
            f"{'|'.join(lay.folders) or '<root>'}/{{{','.join(lay.markers)}}}" for lay in layouts
        )
        conventions = "root/<Original>, root/<key>/<Original> (keys: "
        conventions += f"{', '.join(self.keys) or '-'}), root = <Original>"
        raise DatasetLayoutError(
            f"dataset {self.name!r}: no {expected} found under {root}. Root conventions tried "
            f"({conventions}):\n  " + "\n  ".join(dict.fromkeys(tried)),
            expected=expected,
            tried=list(dict.fromkeys(tried)),
        )

    def require(self, path: Path, what: str = "file") -> Path:
        """Return ``path`` or raise :class:`DatasetLayoutError` naming the missing file/folder."""
        if not path.exists():
            raise DatasetLayoutError(
                f"dataset {self.name!r}: required {what} {path} is missing "
                f"(dataset folder {self.dataset_dir}, layout {self.layout})",
                expected=str(path),
                tried=[str(path)],
            )
        return path

    # ------------------------------------------------------------------ loading
    def load(self) -> None:
        """Fill ``train``/``query``/``gallery`` (and ``extra_splits``) from :attr:`dataset_dir`."""
        raise NotImplementedError

    @property
    def num_train_pids(self) -> int:
        return len({s.pid for s in self.train})

    @property
    def num_train_cams(self) -> int:
        return len({s.camid for s in self.train if s.camid >= 0})

    def splits(self) -> dict[str, list[Sample]]:
        """``train``, ``query``, ``gallery`` then the extra splits, by name."""
        return {"train": self.train, "query": self.query, "gallery": self.gallery,
                **self.extra_splits}

    def validation(self) -> tuple[list[Sample], list[Sample]] | None:
        """The labelled validation split ``(query, gallery)`` for model selection, or ``None``.

        Model selection (the runner's ``select: val``) uses this split and never the test split.
        The default finds a pair of extra splits ``<prefix>validation_query`` /
        ``<prefix>validation_gallery`` (VisDA-2020: ``target_validation_query`` /
        ``target_validation_gallery``; the first prefix in sorted order wins). A dataset whose
        validation data lives elsewhere overrides this method; one without labelled validation
        data returns ``None``.
        """
        for key in sorted(self.extra_splits):
            if key.endswith("validation_query"):
                gallery = key[: -len("query")] + "gallery"
                if gallery in self.extra_splits:
                    return list(self.extra_splits[key]), list(self.extra_splits[gallery])
        return None

    def stats(self) -> dict[str, dict[str, int]]:
        """:func:`split_stats` of ``train``, ``query`` and ``gallery``."""
        return {k: split_stats(getattr(self, k)) for k in ("train", "query", "gallery")}

    def compare_official(self) -> list[str]:
        """Human-readable mismatches between :meth:`stats` and :attr:`official_stats`."""
        if not self.official_stats:
            return []
        found = self.stats()
        out = []
        for split, expected in self.official_stats.items():
            got = found.get(split) or split_stats(self.extra_splits.get(split, []))
            for field, value in expected.items():
                if value is not None and got.get(field) != value:
                    out.append(f"{split}.{field}: found {got.get(field)}, official {value}")
        return out

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={len(v)}" for k, v in self.splits().items())
        return f"<{type(self).__name__} {self.name!r} at {self.dataset_dir}: {parts}>"
