"""``synthesize``: plan, render in a process pool, write atomically, and cache by parameters.

Every image is rendered from its own ``numpy.random.Generator`` keyed by (seed, style, what it
shows, camera, image index), and identities and cameras by (seed, style, number), so the bytes
written do not depend on the number of workers or on the order in which they finish.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ._camera import Camera, camera_rng, sample_camera
from ._identity import STYLES, Identity, sample_identity
from ._layout import (
    DISTRACTOR,
    JUNK_EMPTY,
    JUNK_PERSON,
    MARKET_DIR,
    STYLE_CODES,
    SYSU_DIR,
    SYSU_IR_CAMS,
    Shot,
    market_counts,
    plan_market,
    plan_sysu,
    sysu_counts,
    sysu_split,
)

GENERATOR = "reid_data.synth"
GENERATOR_VERSION = 2
MODALITIES = ("rgb", "rgb-ir")
META = "meta.json"

_CTX: dict[str, Any] = {}


def identity_for(seed: int, style: str, kind: int, key: int) -> Identity:
    """The person shown by a shot: planned identity ``key``, or one-off distractor / junk ``key``."""
    stream = {0: 1, DISTRACTOR: 4, JUNK_PERSON: 7}[kind]
    return sample_identity(np.random.default_rng(np.random.SeedSequence([seed, STYLE_CODES[style], stream, key])), style)


def image_rng(seed: int, style: str, shot: Shot) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, STYLE_CODES[style], 3, shot.kind, shot.key, shot.cam,
                                                         shot.index]))


def _init(ctx: dict[str, Any]) -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already
    _CTX.clear()
    _CTX.update(ctx)


def _render_group(shots: list[Shot]) -> int:
    import cv2

    from ._render import render_image

    seed, style, size, root = _CTX["seed"], _CTX["style"], _CTX["size"], _CTX["root"]
    cams: dict[int, Camera] = _CTX["cameras"]
    first = shots[0]
    ident = None if first.kind == JUNK_EMPTY else identity_for(seed, style, first.kind, first.key)
    for shot in shots:
        img = render_image(ident, cams[shot.cam], image_rng(seed, style, shot), seed, size,
                           junk=shot.kind in (JUNK_PERSON, JUNK_EMPTY))
        path = os.path.join(root, shot.relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, cams[shot.cam].jpeg])
        if not ok:
            raise OSError(f"could not encode {path}")
        with open(path, "wb") as fh:
            fh.write(buf.tobytes())
    return len(shots)


def _groups(shots: list[Shot]) -> list[list[Shot]]:
    by: dict[tuple[int, int], list[Shot]] = defaultdict(list)
    for s in shots:
        by[(s.kind, s.key)].append(s)
    return list(by.values())


def _check(style: str, modality: str, ids: int, cameras: int, images_per_camera: int,
           image_size: tuple[int, int], queries_per_id: int) -> None:
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; choose one of {', '.join(MODALITIES)}")
    if ids < (3 if modality == "rgb-ir" else 2):
        raise ValueError(f"ids={ids}: need at least 2 identities (3 for rgb-ir)")
    if ids > 9999:
        raise ValueError(f"ids={ids}: at most 9999 identities fit the 4-digit pid of the file names")
    if not 2 <= cameras <= 9:
        raise ValueError(f"cameras={cameras}: must be 2..9 (one digit in the Market file name)")
    if images_per_camera < 1 or queries_per_id < 1:
        raise ValueError("images_per_camera and queries_per_id must be >= 1")
    if len(image_size) != 2 or min(image_size) < 16:
        raise ValueError(f"image_size={image_size!r}: need (height, width), each >= 16")


def _read_meta(out: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((out / META).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("generator") == GENERATOR else None


def _is_complete(out: Path, meta: dict[str, Any]) -> bool:
    folder = out / meta["folder"]
    if not folder.is_dir():
        return False
    n = sum(1 for _ in folder.rglob("*.jpg"))
    return n == meta["files"]


def synthesize(out: str | os.PathLike[str], style: str = "source", modality: str = "rgb", ids: int = 200,
               seed: int = 0, *, cameras: int = 6, images_per_camera: int = 4,
               image_size: tuple[int, int] = (128, 64), queries_per_id: int = 2,
               distractors: int | None = None, junk: int | None = None, workers: int | None = None,
               gap: float = 1.0) -> Path:
    """Write a synthetic re-ID dataset under ``out`` and return ``out`` as a Path.

    Args:
        out: output root. ``modality="rgb"`` writes ``out/Market-1501-v15.09.15/`` (Market-1501
            layout); ``"rgb-ir"`` writes ``out/SYSU-MM01/`` (SYSU-MM01 layout). ``out/meta.json``
            and ``out/README.txt`` describe the parameters and counts.
        style: ``"source"`` (clean PersonX-like renders) or ``"target"`` (surveillance-like footage).
            The two styles have disjoint identities.
        modality: ``"rgb"`` or ``"rgb-ir"``.
        ids: number of identities (Market: half train, half test; SYSU: 60/20/20 % train/val/test).
        seed: everything is a pure function of the seed and the other parameters; same parameters,
            byte-identical files.
        cameras: number of cameras of the Market layout (the SYSU layout always has 6).
        images_per_camera: mean images per identity per camera (each camera gets this +-1).
        image_size: (height, width) of every image.
        queries_per_id: Market layout: query images per test identity (one per camera).
        distractors: Market layout: pid-0000 gallery images (default ``ids // 2``).
        junk: Market layout: pid-(-1) gallery images (default ``max(2, ids // 20)``).
        workers: rendering processes (default ``min(2, os.cpu_count())``); never changes the output.
        gap: ``style="target"`` only: strength of the cameras' imaging degradations (colour cast,
            contrast/haze, gamma, resolution loss, blur, noise, JPEG, occlusion, fabric texture),
            from 0 (clean imaging, only the wardrobe and scenes differ from ``source``) to 1 (the
            full surveillance look, the default). Ignored for ``source``.

    If ``out/meta.json`` says ``out`` already holds a complete dataset generated with the same
    parameters, nothing is written (cache hit). A dataset previously generated there with other
    parameters is replaced; a dataset folder not made by this generator is never touched
    (``FileExistsError``).
    """
    out = Path(out)
    size = (int(image_size[0]), int(image_size[1]))
    _check(style, modality, ids, cameras, images_per_camera, size, queries_per_id)
    if not 0.0 <= float(gap) <= 1.0:
        raise ValueError(f"gap={gap!r}: must be in [0, 1] (0 = clean imaging, 1 = full target look)")
    gap = float(gap) if style == "target" else 1.0
    if modality == "rgb-ir":
        cameras = 6
    distractors = ids // 2 if distractors is None else int(distractors)
    junk = max(2, ids // 20) if junk is None else int(junk)
    params: dict[str, Any] = {
        "style": style, "modality": modality, "ids": ids, "seed": seed, "cameras": cameras,
        "images_per_camera": images_per_camera, "image_size": list(size),
        "queries_per_id": queries_per_id if modality == "rgb" else None,
        "distractors": distractors if modality == "rgb" else None,
        "junk": junk if modality == "rgb" else None,
    }
    if gap != 1.0:  # absent at the default, so datasets cached before the option stay valid
        params["gap"] = gap
    folder = MARKET_DIR if modality == "rgb" else SYSU_DIR
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):  # another process generating the same folder finishes first
        return _synthesize_locked(out, params, folder, style, modality, ids, seed, cameras, images_per_camera,
                                  size, queries_per_id, distractors, junk, workers, gap)


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """An exclusive inter-process lock on ``out/.lock`` (POSIX ``flock``; no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:  # Windows: concurrent generation into one folder is not guarded
        yield
        return
    with open(out / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _synthesize_locked(out: Path, params: dict[str, Any], folder: str, style: str, modality: str, ids: int,
                       seed: int, cameras: int, images_per_camera: int, size: tuple[int, int],
                       queries_per_id: int, distractors: int, junk: int, workers: int | None,
                       gap: float) -> Path:
    old = _read_meta(out)
    if old is not None and old.get("params") == params and old.get("version") == GENERATOR_VERSION \
            and _is_complete(out, old):
        return out
    if (out / folder).exists() and (old is None or old.get("folder") != folder):
        raise FileExistsError(f"{out / folder} exists and was not written by {GENERATOR} "
                              f"(no matching {out / META}); refusing to overwrite it")
    if old is not None:
        (out / META).unlink(missing_ok=True)
        shutil.rmtree(out / old["folder"], ignore_errors=True)

    if modality == "rgb":
        shots = plan_market(seed=seed, style=style, ids=ids, cameras=cameras, images_per_camera=images_per_camera,
                            queries_per_id=queries_per_id, distractors=distractors, junk=junk)
        cams = {c: sample_camera(camera_rng(seed, STYLE_CODES[style], c), style, c, False, gap)
                for c in range(1, cameras + 1)}
        counts: dict[str, Any] = market_counts(shots)
    else:
        shots = plan_sysu(seed=seed, style=style, ids=ids, images_per_camera=images_per_camera)
        cams = {c: sample_camera(camera_rng(seed, STYLE_CODES[style], 10 + c), style, c, c in SYSU_IR_CAMS,
                                 gap)
                for c in range(1, 7)}
        counts = sysu_counts(shots)

    tmp = out / f".{folder}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    ctx = {"seed": seed, "style": style, "size": size, "root": str(tmp), "cameras": cams}
    groups = _groups([Shot(s.relpath.split("/", 1)[1], s.kind, s.key, s.cam, s.index, s.split) for s in shots])
    n_workers = min(2, os.cpu_count() or 1) if workers is None else max(1, int(workers))
    if n_workers == 1:
        _init(ctx)
        written = sum(_render_group(g) for g in groups)
    else:
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        with mp.get_context(method).Pool(n_workers, initializer=_init, initargs=(ctx,)) as pool:
            written = sum(pool.imap_unordered(_render_group, groups, chunksize=4))
    if modality == "rgb-ir":
        exp = tmp / "exp"
        exp.mkdir(parents=True, exist_ok=True)
        for name, pids in zip(("train_id.txt", "val_id.txt", "test_id.txt"), sysu_split(ids)):
            (exp / name).write_text(",".join(str(p) for p in pids) + "\n")
    os.replace(tmp, out / folder)

    meta = {"generator": GENERATOR, "version": GENERATOR_VERSION, "layout": "market1501" if modality == "rgb"
            else "sysu_mm01", "folder": folder, "params": params, "files": written, "counts": counts,
            "cameras": {str(c): {"infrared": cam.infrared, "jpeg_quality": cam.jpeg,
                                 "view_p": dict(zip(("front", "back", "left", "right"), [round(p, 3) for p in cam.view_p])),
                                 "blur": round(cam.blur, 3), "noise": round(cam.noise, 4),
                                 "occlusion": round(cam.occlusion, 3)} for c, cam in cams.items()}}
    (out / "README.txt").write_text(_readme(meta))
    (out / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out


def _readme(meta: dict[str, Any]) -> str:
    p = meta["params"]
    lines = [
        f"Synthetic re-ID data written by {GENERATOR} (generator version {meta['version']}).",
        "Rendered people (numpy + OpenCV drawing); no real persons, no downloads.",
        "",
        f"layout: {meta['layout']} in ./{meta['folder']}/",
        "parameters: " + ", ".join(f"{k}={v}" for k, v in p.items() if v is not None),
        f"files: {meta['files']}",
        "counts:",
    ]
    for split, c in meta["counts"].items():
        lines.append(f"  {split}: " + ", ".join(f"{k}={v}" for k, v in c.items()))
    lines += ["", "Regenerate with: reid data synth --out DIR " +
              f"--style {p['style']} --modality {p['modality']} --ids {p['ids']} --seed {p['seed']}", ""]
    return "\n".join(lines)
