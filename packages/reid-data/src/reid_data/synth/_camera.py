"""Cameras: viewpoint, framing, background scene, occlusion and the imaging pipeline.

A :class:`Camera` is a pure function of ``(seed, style, camera number)``. It fixes which way people
usually walk past it (front / back / side views), how large and where they appear, its scene
(background), how often something occludes them, and its imaging chain: light level and gradient,
white balance, contrast and haze, gamma, resolution loss, blur, sensor noise and JPEG quality.

``source`` cameras are clean renders (flat two-tone backgrounds, neutral white balance, no
noise, sharp, high JPEG quality). ``target`` cameras look like surveillance footage (cluttered
textured scenes, per-camera colour cast, low contrast, blur, noise, strong JPEG compression) and
differ from each other much more, as a real camera network does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

VIEWS = ("front", "back", "left", "right")


@dataclass(frozen=True)
class Camera:
    """One camera's fixed properties (see the module docstring)."""

    number: int
    style: str
    infrared: bool
    view_p: tuple[float, float, float, float]
    scale: tuple[float, float]  # person height fraction range
    x_jitter: float
    y_jitter: float
    wall: tuple[float, float, float]
    floor: tuple[float, float, float]
    horizon: float
    light: float
    light_grad: float  # vertical light gradient
    wb: tuple[float, float, float]
    contrast: float
    haze: float
    gamma: float
    lowres: float  # 1 = full resolution, <1 = rendered smaller then upscaled
    blur: float  # gaussian sigma in output pixels
    motion: int  # horizontal motion-blur length in output pixels (0 = none)
    noise: float  # sensor noise sigma, 0..1 scale
    jpeg: int
    occlusion: float  # probability of an occluder
    shading: float
    fabric: float  # amplitude of fabric texture noise
    tint: tuple[float, float, float]  # IR cameras: colour of the grey image


def _muted(rng: np.random.Generator, lo: float, hi: float, chroma: float) -> tuple[float, float, float]:
    """A desaturated colour: a grey level plus a little chroma (real scenes are mostly greyish)."""
    g = rng.uniform(lo, hi)
    return tuple(float(np.clip(g + c, 0.0, 1.0)) for c in rng.uniform(-chroma, chroma, 3))  # type: ignore[return-value]


def camera_rng(seed: int, style_code: int, number: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, style_code, 2, number]))


def _toward(clean: float, value: float, gap: float) -> float:
    """``value`` moved toward the clean (source) ``clean`` setting: ``gap=1`` keeps ``value``."""
    return value if gap == 1.0 else clean + gap * (value - clean)


def sample_camera(rng: np.random.Generator, style: str, number: int, infrared: bool,
                  gap: float = 1.0) -> Camera:
    """Draw the properties of camera ``number`` of ``style`` from ``rng``.

    ``gap`` (``target`` only) scales the imaging degradations of the camera: colour cast,
    contrast loss and haze, gamma, resolution loss, blur, motion blur, noise, JPEG loss, occlusion
    rate, fabric texture and light variation move linearly toward the clean source settings
    (``0`` = clean imaging, ``1`` = the full surveillance look). Scene clutter and the wardrobe
    are not affected. The random draws are the same for every ``gap``.
    """
    dominant = int(rng.integers(4))
    alpha = np.full(4, 0.6)
    alpha[dominant] += 2.5
    view_p = tuple(float(x) for x in rng.dirichlet(alpha) * 0.85 + 0.15 / 4)
    wall = tuple(float(x) for x in rng.uniform(0.25, 0.85, 3))
    floor = tuple(float(x) for x in rng.uniform(0.2, 0.7, 3))
    if style == "source":
        s0 = rng.uniform(0.84, 0.92)
        return Camera(
            number=number, style=style, infrared=infrared, view_p=view_p,  # type: ignore[arg-type]
            scale=(s0 - 0.04, s0 + 0.04), x_jitter=0.04, y_jitter=0.02,
            wall=wall, floor=floor, horizon=float(rng.uniform(0.55, 0.8)),  # type: ignore[arg-type]
            light=float(rng.uniform(0.9, 1.1)), light_grad=float(rng.uniform(-0.1, 0.1)),
            wb=tuple(float(x) for x in rng.uniform(0.95, 1.05, 3)),  # type: ignore[arg-type]
            contrast=1.0, haze=0.0, gamma=1.0, lowres=1.0, blur=0.0, motion=0,
            noise=0.0, jpeg=95, occlusion=float(rng.uniform(0.0, 0.08)),
            shading=float(rng.uniform(0.15, 0.25)), fabric=0.0, tint=(1.0, 1.0, 1.0),
        )
    wall = _muted(rng, 0.3, 0.75, 0.08)
    floor = _muted(rng, 0.25, 0.6, 0.05)
    s0 = rng.uniform(0.78, 0.9)
    wb = rng.uniform(0.75, 1.25, 3)
    wb = wb / wb.mean()
    g = float(gap)
    horizon = float(rng.uniform(0.45, 0.8))  # the draws keep the order of version 1
    light, light_grad = float(rng.uniform(0.7, 1.15)), float(rng.uniform(-0.35, 0.35))
    contrast, haze = float(rng.uniform(0.6, 0.85)), float(rng.uniform(0.0, 0.15))
    gamma, lowres = float(rng.uniform(0.8, 1.25)), float(rng.uniform(0.5, 0.9))
    blur, motion = float(rng.uniform(0.2, 0.9)), int(rng.choice([0, 0, 0, 3, 4]))
    noise, jpeg = float(rng.uniform(0.015, 0.035)), int(rng.integers(35, 76))
    occlusion, shading = float(rng.uniform(0.08, 0.3)), float(rng.uniform(0.25, 0.4))
    fabric = float(rng.uniform(0.04, 0.09))
    tint = tuple(float(x) for x in rng.uniform(0.92, 1.08, 3))
    return Camera(
        number=number, style=style, infrared=infrared, view_p=view_p,  # type: ignore[arg-type]
        scale=(s0 - 0.07, s0 + 0.07), x_jitter=0.07, y_jitter=0.04,
        wall=wall, floor=floor, horizon=horizon,  # type: ignore[arg-type]
        light=_toward(1.0, light, g), light_grad=_toward(0.0, light_grad, g),
        wb=tuple(_toward(1.0, float(x), g) for x in wb),  # type: ignore[arg-type]
        contrast=_toward(1.0, contrast, g), haze=_toward(0.0, haze, g),
        gamma=_toward(1.0, gamma, g), lowres=_toward(1.0, lowres, g),
        blur=_toward(0.0, blur, g), motion=motion if g == 1.0 else int(round(motion * g)),
        noise=_toward(0.0, noise, g), jpeg=jpeg if g == 1.0 else int(round(_toward(95.0, jpeg, g))),
        occlusion=_toward(0.04, occlusion, g), shading=shading,
        fabric=_toward(0.0, fabric, g),
        tint=tint,  # type: ignore[arg-type]
    )


def sample_view(rng: np.random.Generator, cam: Camera) -> str:
    return VIEWS[int(rng.choice(4, p=np.asarray(cam.view_p)))]


# --------------------------------------------------------------------------- backgrounds


@lru_cache(maxsize=64)
def _scene(seed: int, cam: Camera, h: int, w: int) -> np.ndarray:
    """A wide cluttered scene (h x 3w x 3, RGB float32) for one target camera; cached per worker."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, cam.number, 5, h, w]))
    sw = 3 * w
    img = np.empty((h, sw, 3), np.float32)
    hz = int(cam.horizon * h)
    img[:hz] = cam.wall
    img[hz:] = cam.floor
    # Brick / tile texture on the wall, perspective-less tiles on the floor.
    bh = int(rng.integers(h // 24 + 2, h // 10 + 3))
    for y in range(0, hz, bh):
        cv2.line(img, (0, y), (sw, y), tuple(float(c) * 0.8 for c in cam.wall), 1)
    for x in range(0, sw, int(rng.integers(w // 6 + 2, w // 2 + 3))):
        cv2.line(img, (x, hz), (x + int(rng.integers(-w, w)), h), tuple(float(c) * 0.75 for c in cam.floor), 1)
    # Windows, doors, signs, parked things.
    for _ in range(int(rng.integers(8, 18))):
        x0 = int(rng.integers(0, sw))
        y0 = int(rng.integers(0, max(1, hz)))
        rw, rh = int(rng.integers(w // 8 + 1, w)), int(rng.integers(h // 12 + 1, h // 3))
        col = _muted(rng, 0.1, 0.9, 0.2)
        cv2.rectangle(img, (x0, y0), (x0 + rw, y0 + rh), col, -1)
        if rng.random() < 0.5:
            cv2.rectangle(img, (x0, y0), (x0 + rw, y0 + rh), tuple(c * 0.5 for c in col), max(1, h // 80))
    # Poles and passers-by silhouettes (blurred blobs).
    for _ in range(int(rng.integers(2, 6))):
        x0 = int(rng.integers(0, sw))
        col = _muted(rng, 0.05, 0.6, 0.05)
        cv2.line(img, (x0, 0), (x0, h), col, int(rng.integers(2, max(3, w // 12))))
    for _ in range(int(rng.integers(3, 8))):
        c = (int(rng.integers(0, sw)), int(rng.integers(hz // 2, h)))
        col = _muted(rng, 0.1, 0.7, 0.15)
        cv2.ellipse(img, c, (int(rng.integers(w // 12 + 1, w // 6 + 2)), int(rng.integers(h // 8, h // 4))),
                    0, 0, 360, col, -1)
    low = rng.normal(0.0, 1.0, (h // 16 + 2, sw // 16 + 2)).astype(np.float32)
    low = cv2.resize(low, (sw, h), interpolation=cv2.INTER_CUBIC)
    img *= (1.0 + 0.12 * low)[..., None]
    img += rng.normal(0.0, 0.03, img.shape).astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), 1.0)
    return np.clip(img, 0.0, 1.0)


def background(rng: np.random.Generator, seed: int, cam: Camera, h: int, w: int) -> np.ndarray:
    """The background of one image (h x w x 3 RGB float32)."""
    jitter = rng.uniform(0.93, 1.07, 3).astype(np.float32)
    if cam.style == "source":
        img = np.empty((h, w, 3), np.float32)
        hz = int((cam.horizon + rng.uniform(-0.03, 0.03)) * h)
        ramp = np.linspace(1.05, 0.95, h, dtype=np.float32)[:, None, None]
        img[:hz] = np.asarray(cam.wall, np.float32)
        img[hz:] = np.asarray(cam.floor, np.float32)
        return np.clip(img * ramp * jitter, 0.0, 1.0)
    scene = _scene(seed, cam, h, w)
    x0 = int(rng.integers(0, scene.shape[1] - w))
    crop = scene[:, x0:x0 + w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return crop * jitter  # a new contiguous array


def occlude(rng: np.random.Generator, img: np.ndarray) -> None:
    """Draw one occluder into ``img`` in place: an object at the bottom or at one side."""
    h, w = img.shape[:2]
    col = _muted(rng, 0.1, 0.85, 0.2)
    if rng.random() < 0.55:  # bench / car / railing from the bottom
        top = int(h * rng.uniform(0.62, 0.85))
        cv2.rectangle(img, (0, top), (w, h), col, -1)
        if rng.random() < 0.5:
            step = max(2, int(h * rng.uniform(0.03, 0.06)))
            for y in range(top, h, step * 2):
                cv2.rectangle(img, (0, y), (w, y + step), tuple(c * 0.6 for c in col), -1)
    else:  # pole or another pedestrian at one side
        side = int(rng.integers(2))
        width = int(w * rng.uniform(0.12, 0.3))
        x0 = 0 if side == 0 else w - width
        if rng.random() < 0.5:
            cv2.rectangle(img, (x0, 0), (x0 + width, h), col, -1)
        else:
            cx = x0 + width // 2
            cv2.ellipse(img, (cx, int(h * 0.6)), (width, int(h * 0.45)), 0, 0, 360, col, -1)
            cv2.circle(img, (cx, int(h * 0.12)), max(2, width // 2), tuple(c * 0.8 for c in col), -1)


# --------------------------------------------------------------------------- imaging chain


def develop(rng: np.random.Generator, img: np.ndarray, cam: Camera) -> np.ndarray:
    """Apply the camera's imaging chain to a float RGB image; returns uint8 BGR for cv2.imwrite."""
    h, w = img.shape[:2]
    if cam.lowres < 1.0:
        f = cam.lowres * rng.uniform(0.9, 1.1)
        small = cv2.resize(img, (max(8, int(w * f)), max(16, int(h * f))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if cam.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), cam.blur * rng.uniform(0.7, 1.3))
    if cam.motion > 0 and rng.random() < 0.5:
        k = np.zeros((1, cam.motion), np.float32) + 1.0 / cam.motion
        img = cv2.filter2D(img, -1, k)
    gain = cam.light * rng.uniform(0.9, 1.1)
    ramp = 1.0 + cam.light_grad * np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None, None]
    img = img * (gain * ramp)
    if cam.infrared:
        grey = img.mean(axis=2, keepdims=True)
        img = grey * np.asarray(cam.tint, np.float32)
    else:
        wb = np.asarray(cam.wb, np.float32) * rng.uniform(0.96, 1.04, 3).astype(np.float32)
        img = img * wb
    if cam.contrast != 1.0 or cam.haze > 0:
        m = float(img.mean())
        img = m + cam.contrast * (img - m)
        img = img * (1 - cam.haze) + cam.haze * 0.75
    img = np.clip(img, 0.0, 1.0)
    if cam.gamma != 1.0:
        img = img ** cam.gamma
    if cam.noise > 0:
        n = rng.standard_normal((h, w, 1), dtype=np.float32) * cam.noise
        img = img + n + rng.standard_normal((h, w, 3), dtype=np.float32) * (cam.noise * 0.5)
    out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out[..., ::-1])
