"""Ablate factors of the synthetic target, then probe a saved source model or run calibrate.py.

The generator is patched in-process (private functions of ``reid_data.synth``, so this script
follows their names), which changes the rendered target without a new generator version.
Factors (joined with ``+``):

* ``srcwardrobe``  the target wears the source wardrobe;
* ``sharedscene``  each target image takes its background from any camera's scene;
* ``globalimg``    one imaging chain (light, white balance, contrast, blur, noise, JPEG ...)
                   for every target camera instead of one per camera;
* ``nocast``       no per-camera white balance;
* ``sharp``        no resolution loss, blur, noise, JPEG loss or fabric texture;
* ``noocc``        occluders at the source rate.

Probe (no training; seconds): direct mAP of a ``calibrate.py --save-src`` model, k-means
(K = train ids) NMI/ARI against the true ids and cameras, and nearest-neighbour statistics::

    python benchmarks/demo_calibration/ablate.py srcwardrobe+globalimg --gap 1 --probe src.pt

Otherwise the remaining arguments go to ``calibrate.py``::

    python benchmarks/demo_calibration/ablate.py srcwardrobe --gap 0.5 --parts gen,src,cluster \\
        --load-src src.pt --arch resnet_mini --batch 32
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np

IMAGING = ("light", "light_grad", "wb", "contrast", "haze", "gamma", "lowres", "blur", "motion", "noise",
           "jpeg", "fabric")
FACTORS = {"srcwardrobe", "sharedscene", "globalimg", "nocast", "sharp", "noocc", "none"}


def patch(flags: set[str]) -> None:
    import reid_data.synth._camera as C
    import reid_data.synth._generate as G
    import reid_data.synth._identity as I
    import reid_data.synth._render as R

    color, camera, bg = I.sample_color, C.sample_camera, C.background
    if "srcwardrobe" in flags:
        I.sample_color = lambda rng, style: color(rng, "source")
    if "sharedscene" in flags:
        def background(rng, seed, cam, h, w):  # type: ignore[no-untyped-def]
            if cam.style == "source":
                return bg(rng, seed, cam, h, w)
            return bg(rng, seed, dataclasses.replace(cam, number=100 + int(rng.integers(1, 7))), h, w)
        C.background = R.background = background

    def sample_camera(rng, style, number, infrared, gap=1.0):  # type: ignore[no-untyped-def]
        cam = camera(rng, style, number, infrared, gap)
        if style != "target":
            return cam
        kw: dict = {}
        if "globalimg" in flags:
            ref = camera(C.camera_rng(0, 1, 1), style, 1, infrared, gap)
            kw.update({k: getattr(ref, k) for k in IMAGING})
        if "nocast" in flags:
            kw["wb"] = (1.0, 1.0, 1.0)
        if "sharp" in flags:
            kw.update(lowres=1.0, blur=0.0, motion=0, noise=0.0, jpeg=95, fabric=0.0)
        if "noocc" in flags:
            kw["occlusion"] = 0.04
        return dataclasses.replace(cam, **kw)

    C.sample_camera = G.sample_camera = sample_camera


def probe(target_root: Path, ckpt: str, arch: str, size: tuple[int, int]) -> str:
    import calibrate
    import torch
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from reid_data import build_test_transform, create_dataset

    tgt = create_dataset("market1501", str(target_root))
    state = torch.load(ckpt, weights_only=False)
    model = calibrate.make_model(argparse.Namespace(arch=arch, last_stride=1), state["num_classes"], 0)
    model.load_state_dict(state["state"])
    model.eval()
    tf = build_test_transform(*size)
    res = calibrate.evaluate(model, tgt, tf)
    f = calibrate.extract(model, list(tgt.train), tf).numpy()
    pid = np.array([s[1] for s in tgt.train])
    cam = np.array([s[2] for s in tgt.train])
    lab = KMeans(len(set(pid.tolist())), n_init=1, random_state=0).fit_predict(f)
    d = f @ f.T
    np.fill_diagonal(d, -np.inf)
    nn = d.argmax(1)
    return (f"direct {res['mAP']} | k-means nmi {normalized_mutual_info_score(pid, lab):.3f} "
            f"ari {adjusted_rand_score(pid, lab):.3f} cam-nmi {normalized_mutual_info_score(cam, lab):.3f} | "
            f"NN pid {(pid[nn] == pid).mean():.2f} cam {(cam[nn] == cam).mean():.2f} "
            f"xcam {((pid[nn] == pid) & (cam[nn] != cam)).mean():.2f}")


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variant", help="factors joined with '+', or 'none'")
    ap.add_argument("--gap", type=float, default=1.0)
    ap.add_argument("--probe", metavar="CKPT", help="a calibrate.py --save-src file")
    ap.add_argument("--arch", default="resnet_mini")
    ap.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "reid_demo_ablate"))
    args, rest = ap.parse_known_args()
    flags = set(args.variant.split("+"))
    if flags - FACTORS:
        ap.error(f"unknown factor(s) {sorted(flags - FACTORS)}; choose from {sorted(FACTORS)}")
    patch(flags)
    data = Path(args.data) / args.variant
    if args.probe:
        from reid_data.synth import synthesize

        out = synthesize(data / f"target_g{args.gap:g}", style="target", ids=200, seed=0, cameras=6,
                         images_per_camera=4, image_size=(64, 32), gap=args.gap)
        print(f"{args.variant} gap {args.gap:g}: {probe(out, args.probe, args.arch, (64, 32))}")
        return
    import calibrate

    calibrate.main(["--data", str(data), "--gap", str(args.gap), "--arch", args.arch, *rest])


if __name__ == "__main__":
    main()
