"""The synthetic generator: layout, naming, determinism, caching (tiny datasets)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import cv2
import pytest

from reid_data.synth import synthesize

MARKET = "Market-1501-v15.09.15"
PATTERN = re.compile(r"([-\d]+)_c(\d)")
TINY = {"ids": 6, "image_size": (32, 16), "images_per_camera": 2, "workers": 1}


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


def _parse(folder: Path) -> list[tuple[int, int]]:
    out = []
    for p in sorted(folder.glob("*.jpg")):
        m = PATTERN.search(p.name)
        assert m is not None, p.name
        out.append((int(m.group(1)), int(m.group(2))))
    return out


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("m"), style="target", seed=3, **TINY)


def test_market_layout_and_naming(market: Path) -> None:
    root = market / MARKET
    train, query, gallery = (_parse(root / d) for d in ("bounding_box_train", "query", "bounding_box_test"))
    train_ids = {p for p, _ in train}
    test_ids = {p for p, _ in query}
    assert train_ids == {1, 2, 3} and test_ids == {4, 5, 6}
    assert all(1 <= c <= 6 for _, c in train + query + gallery)
    gallery_ids = {p for p, _ in gallery}
    assert gallery_ids == test_ids | {0, -1}  # distractors and junk are in the gallery only
    assert sum(p == 0 for p, _ in gallery) == 3 and sum(p == -1 for p, _ in gallery) == 2
    assert any(name.startswith("-1_c") for name in (x.name for x in (root / "bounding_box_test").iterdir()))
    # one query per (test id, camera); every query has a gallery match in another camera
    assert len(query) == len(set(query)) == 2 * len(test_ids)
    for pid, cam in query:
        assert any(p == pid and c != cam for p, c in gallery), (pid, cam)
    # Market file name shape: PPPP_cXsY_FFFFFF_BB.jpg
    for p in (root / "query").glob("*.jpg"):
        assert re.fullmatch(r"\d{4}_c\d+s\d+_\d{6}_\d{2}\.jpg", p.name), p.name
    img = cv2.imread(str(next((root / "query").glob("*.jpg"))))
    assert img.shape == (32, 16, 3)


def test_meta_and_readme(market: Path) -> None:
    meta = json.loads((market / "meta.json").read_text())
    assert meta["params"]["ids"] == 6 and meta["params"]["style"] == "target"
    n_files = sum(1 for _ in (market / MARKET).rglob("*.jpg"))
    assert meta["files"] == n_files
    counts = meta["counts"]
    assert counts["query"]["ids"] == 3 and counts["bounding_box_test"]["distractors"] == 3
    assert counts["bounding_box_test"]["junk"] == 2
    assert sum(c["images"] for c in counts.values()) == n_files
    assert "ids=6" in (market / "README.txt").read_text()


def test_deterministic_bytes_and_worker_independent(tmp_path: Path) -> None:
    a = synthesize(tmp_path / "a", style="source", seed=1, **TINY)
    b = synthesize(tmp_path / "b", style="source", seed=1, **{**TINY, "workers": 2})
    c = synthesize(tmp_path / "c", style="source", seed=2, **TINY)
    da, db, dc = _digest(a), _digest(b), _digest(c)
    assert da == db
    assert da != dc
    common = set(da) & set(dc)
    assert sum(da[k] != dc[k] for k in common if k.endswith(".jpg")) > 0.9 * sum(k.endswith(".jpg") for k in common)


def test_styles_have_disjoint_looks(tmp_path: Path) -> None:
    s = synthesize(tmp_path / "s", style="source", seed=0, **TINY)
    t = synthesize(tmp_path / "t", style="target", seed=0, **TINY)
    assert not set(_digest(s).values()) & set(_digest(t).values())


def test_cache_hit_and_regeneration(tmp_path: Path) -> None:
    out = synthesize(tmp_path, style="source", seed=0, **TINY)
    probe = next((out / MARKET / "query").glob("*.jpg"))
    mtime = probe.stat().st_mtime_ns
    synthesize(tmp_path, style="source", seed=0, **{**TINY, "workers": 2})  # workers do not matter
    assert probe.stat().st_mtime_ns == mtime  # cache hit: nothing rewritten
    probe.unlink()  # incomplete -> regenerated
    synthesize(tmp_path, style="source", seed=0, **TINY)
    assert probe.exists()
    synthesize(tmp_path, style="source", seed=5, **TINY)  # other parameters -> replaced
    assert json.loads((tmp_path / "meta.json").read_text())["params"]["seed"] == 5
    assert not (tmp_path / f".{MARKET}.partial").exists()


def test_foreign_dataset_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / MARKET).mkdir()
    (tmp_path / MARKET / "mine.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match=MARKET):
        synthesize(tmp_path, **TINY)
    assert (tmp_path / MARKET / "mine.jpg").exists()


@pytest.mark.parametrize(("kw", "match"), [
    ({"style": "real"}, "source, target"),
    ({"modality": "depth"}, "rgb, rgb-ir"),
    ({"ids": 1}, "ids=1"),
    ({"cameras": 12}, "cameras=12"),
])
def test_bad_parameters_name_the_choice(tmp_path: Path, kw: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        synthesize(tmp_path, **{**TINY, **kw})  # type: ignore[arg-type]


def test_rgb_ir_layout(tmp_path: Path) -> None:
    out = synthesize(tmp_path, style="target", modality="rgb-ir", ids=10, image_size=(32, 16),
                     images_per_camera=2, workers=1)
    root = out / "SYSU-MM01"
    assert sorted(p.name for p in root.iterdir()) == ["cam1", "cam2", "cam3", "cam4", "cam5", "cam6", "exp"]
    ids = {name: [int(x) for x in (root / "exp" / name).read_text().strip().split(",")]
           for name in ("train_id.txt", "val_id.txt", "test_id.txt")}
    assert ids == {"train_id.txt": [1, 2, 3, 4, 5, 6], "val_id.txt": [7, 8], "test_id.txt": [9, 10]}
    for pid in range(1, 11):
        rgb = [c for c in (1, 2, 4, 5) if (root / f"cam{c}" / f"{pid:04d}").is_dir()]
        ir = [c for c in (3, 6) if (root / f"cam{c}" / f"{pid:04d}").is_dir()]
        assert len(rgb) >= 2 and len(ir) >= 1, pid
    for path in root.glob("cam*/*/*.jpg"):
        s = str(path)
        assert int(s[-13:-9]) == int(path.parent.name) and int(s[-15]) == int(path.parent.parent.name[3:])
        assert re.fullmatch(r"\d{4}\.jpg", path.name)
    ir_img = cv2.imread(str(next(root.glob("cam3/*/*.jpg")))).astype(int)
    rgb_img = cv2.imread(str(next(root.glob("cam1/*/*.jpg")))).astype(int)
    # infrared: (nearly) grey, three channels; visible: coloured
    assert abs(ir_img[..., 0] - ir_img[..., 2]).mean() < 0.1 * abs(rgb_img[..., 0] - rgb_img[..., 2]).mean() + 8
    meta = json.loads((out / "meta.json").read_text())
    assert meta["layout"] == "sysu_mm01" and meta["counts"]["test"]["ids"] == 2


def test_target_gap_scales_the_imaging_degradations(tmp_path: Path) -> None:
    full = synthesize(tmp_path / "g1", style="target", seed=0, **TINY)
    mild = synthesize(tmp_path / "g0", style="target", seed=0, gap=0.0, **TINY)
    m1 = json.loads((full / "meta.json").read_text())
    m0 = json.loads((mild / "meta.json").read_text())
    assert "gap" not in m1["params"] and m0["params"]["gap"] == 0.0  # default keeps old caches valid
    assert _parse(full / MARKET / "bounding_box_train") == _parse(mild / MARKET / "bounding_box_train")
    for cam in m0["cameras"].values():  # clean imaging, same people and scenes
        assert cam["noise"] == 0.0 and cam["blur"] == 0.0 and cam["jpeg_quality"] == 95
    assert all(c["noise"] > 0 for c in m1["cameras"].values())
    assert synthesize(tmp_path / "s", style="source", seed=0, gap=0.3, **TINY) \
        and "gap" not in json.loads((tmp_path / "s" / "meta.json").read_text())["params"]  # ignored
    with pytest.raises(ValueError, match="gap=1.5"):
        synthesize(tmp_path / "bad", style="target", gap=1.5, **TINY)


def _synth_tiny(out: str) -> str:
    return str(synthesize(out, ids=6, cameras=2, images_per_camera=1, image_size=(32, 16), workers=1))


def test_concurrent_generation_of_one_folder(tmp_path: Path) -> None:
    """Two demos started at once: one process generates, the others wait and reuse it."""
    import multiprocessing as mp

    out = str(tmp_path / "d")
    with mp.get_context("spawn").Pool(3) as pool:
        assert pool.map(_synth_tiny, [out] * 3) == [out] * 3
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    assert meta["files"] == sum(1 for _ in (tmp_path / "d").rglob("*.jpg"))
    assert not list((tmp_path / "d").glob(".*.partial"))
