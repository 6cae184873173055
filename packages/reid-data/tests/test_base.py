"""``ReidDataset`` accessors shared by every dataset: the labelled validation split."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from reid_data import create_dataset
from reid_data.base import Layout, ReidDataset, Sample
from reid_data.testing import touch


def _visda(base: Path) -> Path:
    """The smallest VisDA-2020 root: one source image, target train, validation query/gallery."""
    touch(base / "personX" / "image_train", ["0001_c3s1_24.jpg"])
    touch(base / "target_training" / "image_train", ["00001.jpg"])
    (base / "target_training" / "label_target_training.txt").write_text("00001.jpg 1 0\n")
    q, g = ["0001_c1s1_000017_02.jpg"], ["0001_c4s1_000020_01.jpg", "0002_c6s1_000300_00.jpg"]
    touch(base / "target_validation" / "image_query", q)
    touch(base / "target_validation" / "image_gallery", g)
    (base / "index_validation_query.txt").write_text(f"{q[0]} 0 0 0000\n")
    (base / "index_validation_gallery.txt").write_text(
        "".join(f"{n} 0 0 {i:04d}\n" for i, n in enumerate(g)))
    return base


def test_visda_validation_is_target_validation(tmp_path: Path) -> None:
    ds = create_dataset("visda2020", _visda(tmp_path))
    val = ds.validation()
    assert val is not None
    query, gallery = val
    assert query == ds.extra_splits["target_validation_query"]
    assert gallery == ds.extra_splits["target_validation_gallery"]
    assert [(s.pid, s.camid) for s in gallery] == [(1, 2), (2, 4)]  # labelled
    # copies: a caller cannot change the dataset's splits through them
    query.clear()
    assert ds.validation() is not None and len(ds.validation()[0]) == 1  # type: ignore[index]


def test_market_has_no_validation(market_root: Path) -> None:
    assert create_dataset("market1501", market_root).validation() is None


class _Splits(ReidDataset):
    """A dataset whose splits are set from its constructor (no files)."""

    name: ClassVar[str] = "splits"
    layouts: ClassVar[tuple[Layout, ...]] = (Layout("any", (), ()),)

    def __init__(self, root: Path, extra: dict[str, list[Sample]]) -> None:
        self._extra = extra
        super().__init__(root)

    def load(self) -> None:
        self.extra_splits = dict(self._extra)


def test_validation_pairs_extra_splits_by_prefix(tmp_path: Path) -> None:
    q, g, other = [Sample("q.jpg", 1, 0)], [Sample("g.jpg", 1, 1)], [Sample("x.jpg", 2, 0)]
    # a query without its gallery is no validation split
    assert _Splits(tmp_path, {"validation_query": q}).validation() is None
    assert _Splits(tmp_path, {"validation_query": q, "validation_gallery": g}).validation() == (
        q, g)
    # the first complete pair in sorted key order wins
    ds = _Splits(tmp_path, {"b_validation_query": other, "b_validation_gallery": other,
                            "a_validation_query": q, "a_validation_gallery": g,
                            "0_validation_query": other})
    assert ds.validation() == (q, g)


def test_a_dataset_may_override_validation(tmp_path: Path) -> None:
    held_out = ([Sample("q.jpg", 3, 0)], [Sample("g.jpg", 3, 1)])

    class HeldOut(_Splits):
        def validation(self) -> tuple[list[Sample], list[Sample]] | None:
            return held_out

    assert HeldOut(tmp_path, {}).validation() == held_out
