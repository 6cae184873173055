"""Drawing one person into one camera image (numpy + OpenCV only).

The person is first drawn as a *label map* (skin, hair, upper garment, sleeves, lower garment,
shoes, bag, hat, scarf, logo ...) at twice the output resolution, in painter's order for the
chosen view (front, back, or side; the left side is the mirrored right side). The label map is
then coloured (RGB: clothing colours and patterns; infrared: per-material NIR reflectance, so
colour is lost but shape and material contrast stay), shaded, composited over the camera's
background, optionally occluded, downsampled with area interpolation (anti-aliasing), and passed
through the camera's imaging chain (:func:`reid_data.synth._camera.develop`).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ._camera import Camera, background, develop, occlude, sample_view
from ._identity import Identity

BG, SKIN, HAIR, UPPER, SLEEVE, LOWER, LSTRIPE, SHOES, BAG, HAT, SCARF, LOGO = range(12)
SUPERSAMPLE = 2


def _p(*pts: tuple[float, float]) -> np.ndarray:
    return np.asarray([[int(round(x)), int(round(y))] for x, y in pts], np.int32)


def _i(v: float) -> int:
    return int(round(v))


def draw_labels(ident: Identity, view: str, rng: np.random.Generator, hs: int, ws: int,
                scale: float, dx: float, dy: float) -> tuple[np.ndarray, dict[str, float]]:
    """Draw the label map (hs x ws uint8) of ``ident`` seen from ``view``; returns it and geometry."""
    lab = np.zeros((hs, ws), np.uint8)
    side = view in ("left", "right")
    u = hs * scale * ident.height
    top = (hs - u) / 2 + dy * hs
    foot = top + u
    cx = ws / 2 + dx * ws
    b = ident.build
    head_h = u * ident.head
    head_w = head_h * (0.85 if side else 0.78)
    hx, hy = cx + (0.012 * u if side else 0.0), top + head_h / 2
    y_chin = top + head_h
    y_sh = y_chin + 0.035 * u
    y_hip = foot - u * ident.leg
    torso = y_hip - y_sh
    sw = 0.25 * u * b * (0.55 if side else 1.0)
    hw = 0.19 * u * b * (0.62 if side else 1.0)
    stride = rng.uniform(-1, 1)
    swing = rng.uniform(-1, 1)
    t = max(1, _i(0.012 * u))
    # ----------------------------------------------------------------- legs and lower garment
    bare = ident.lower_kind != "trousers"
    knee = y_hip + 0.42 * (foot - y_hip)
    legs = []
    for s in (-1, 1):
        if side:
            fx, hipx, lw0, lw1 = cx + s * stride * 0.13 * u, cx, 0.09 * u * b, 0.05 * u * b
        else:
            hipx = cx + s * hw * 0.25
            fx, lw0, lw1 = hipx + s * (0.012 + 0.01 * abs(stride)) * u, hw * 0.48, 0.055 * u * b
        legs.append((s, hipx, fx, lw0, lw1))
        bot = foot - 0.02 * u
        quad = _p((hipx - lw0 / 2, y_hip), (hipx + lw0 / 2, y_hip), (fx + lw1 / 2, bot), (fx - lw1 / 2, bot))
        cv2.fillPoly(lab, [quad], SKIN if bare else LOWER)
        if ident.lower_kind == "shorts":
            f = (knee - y_hip) / (bot - y_hip)
            kx, kw = hipx + f * (fx - hipx), lw0 + f * (lw1 - lw0)
            cv2.fillPoly(lab, [_p((hipx - lw0 / 2, y_hip), (hipx + lw0 / 2, y_hip), (kx + kw / 2 + t, knee),
                                  (kx - kw / 2 - t, knee))], LOWER)
        if ident.lower.pattern == "sidestripe" and ident.lower_kind != "skirt":
            end_y = knee if ident.lower_kind == "shorts" else bot
            f = (end_y - y_hip) / (bot - y_hip)
            ox = 0.0 if side else s * 0.38
            cv2.line(lab, (_i(hipx + ox * lw0), _i(y_hip)), (_i(hipx + f * (fx - hipx) + ox * lw1), _i(end_y)),
                     LSTRIPE, t)
        shoe_x = fx + (0.02 * u if side else 0.0)
        cv2.ellipse(lab, (_i(shoe_x), _i(foot - 0.018 * u)), (max(1, _i((0.05 if side else 0.035) * u)),
                    max(1, _i(0.02 * u))), 0, 0, 360, SHOES, -1)
    cv2.rectangle(lab, (_i(cx - hw / 2), _i(y_hip - 0.03 * u)), (_i(cx + hw / 2), _i(y_hip + 0.06 * u)), LOWER, -1)
    if ident.lower_kind == "skirt":
        wide = hw * (1.4 if side else 1.5)
        cv2.fillPoly(lab, [_p((cx - hw / 2, y_hip - 0.03 * u), (cx + hw / 2, y_hip - 0.03 * u),
                              (cx + wide / 2, knee), (cx - wide / 2, knee))], LOWER)
    # ----------------------------------------------------------------- far arm (side view)
    arm_t = max(2, _i(0.06 * u * b))
    sh_y = y_sh + 0.03 * u

    def arm(x0: float, y0: float, x1: float, y1: float) -> None:
        if ident.long_sleeves:
            cv2.line(lab, (_i(x0), _i(y0)), (_i(x1), _i(y1)), SLEEVE, arm_t)
        else:
            cv2.line(lab, (_i(x0), _i(y0)), (_i(x1), _i(y1)), SKIN, max(2, arm_t - 1))
            cv2.line(lab, (_i(x0), _i(y0)), (_i(x0 + 0.35 * (x1 - x0)), _i(y0 + 0.35 * (y1 - y0))), SLEEVE, arm_t)
        cv2.circle(lab, (_i(x1), _i(y1)), max(1, _i(arm_t * 0.55)), SKIN, -1)

    hand_y = y_hip + 0.03 * u
    if side:
        arm(cx, sh_y, cx - swing * 0.12 * u, hand_y)
    # ----------------------------------------------------------------- torso
    if side:
        body = _p((cx - sw / 2, y_sh + 0.02 * u), (cx - sw / 4, y_sh), (cx + sw / 4, y_sh),
                  (cx + sw / 2, y_sh + 0.02 * u), (cx + hw * 0.55, y_hip + 0.04 * u), (cx - hw * 0.55, y_hip + 0.04 * u))
    else:
        body = _p((cx - sw / 2, y_sh + 0.025 * u), (cx - sw * 0.3, y_sh), (cx + sw * 0.3, y_sh),
                  (cx + sw / 2, y_sh + 0.025 * u), (cx + hw * 0.53, y_hip + 0.04 * u), (cx - hw * 0.53, y_hip + 0.04 * u))
    cv2.fillPoly(lab, [body], UPPER)
    if ident.upper.pattern == "logo" and view == "front":
        r = max(2, _i(0.045 * u))
        ly = _i(y_sh + 0.32 * torso)
        if ident.upper.period > 0.06:
            cv2.circle(lab, (_i(cx), ly), r, LOGO, -1)
        else:
            cv2.rectangle(lab, (_i(cx - r), ly - r), (_i(cx + r), ly + r), LOGO, -1)
    # ----------------------------------------------------------------- bag behind the arms
    mirror = {"front": -1, "back": 1}.get(view, 1)  # image-x sign of the person's right side
    if ident.bag == "backpack":
        if view == "back":
            cv2.rectangle(lab, (_i(cx - sw * 0.36), _i(y_sh + 0.03 * u)), (_i(cx + sw * 0.36), _i(y_sh + 0.7 * torso)), BAG, -1)
        elif view == "front":
            for s in (-1, 1):
                cv2.line(lab, (_i(cx + s * sw * 0.28), _i(y_sh)), (_i(cx + s * sw * 0.24), _i(y_sh + 0.5 * torso)), BAG, t + 1)
        else:
            cv2.rectangle(lab, (_i(cx - sw / 2 - 0.08 * u * b), _i(y_sh + 0.03 * u)),
                          (_i(cx - sw / 2 + 0.02 * u), _i(y_sh + 0.7 * torso)), BAG, -1)
    if ident.bag == "shoulder":
        bx = cx + (ident.bag_side * mirror * (hw / 2 + 0.03 * u) if not side else -0.02 * u)
        cv2.line(lab, (_i(cx - ident.bag_side * mirror * sw * 0.35), _i(y_sh)), (_i(bx), _i(y_hip - 0.02 * u)), BAG, t)
        cv2.rectangle(lab, (_i(bx - 0.045 * u), _i(y_hip - 0.04 * u)), (_i(bx + 0.045 * u), _i(y_hip + 0.05 * u)), BAG, -1)
    if ident.scarf is not None:
        cv2.rectangle(lab, (_i(cx - (0.035 if side else 0.06) * u * b), _i(y_chin - 0.005 * u)),
                      (_i(cx + (0.035 if side else 0.06) * u * b), _i(y_sh + 0.045 * u)), SCARF, -1)
    # ----------------------------------------------------------------- arms
    if side:
        arm(cx, sh_y, cx + swing * 0.12 * u, hand_y)
        hands = [(cx + swing * 0.12 * u, hand_y)]
    else:
        hands = []
        for s in (-1, 1):
            hxs = cx + s * (sw / 2 + 0.015 * u + 0.012 * u * abs(swing))
            arm(cx + s * (sw / 2 - 0.02 * u), sh_y, hxs, hand_y)
            hands.append((hxs, hand_y))
    if ident.bag == "handbag":
        hxb, hyb = hands[0] if side else hands[0 if ident.bag_side * mirror < 0 else 1]
        cv2.rectangle(lab, (_i(hxb - 0.04 * u), _i(hyb)), (_i(hxb + 0.04 * u), _i(hyb + 0.1 * u)), BAG, -1)
    # ----------------------------------------------------------------- neck, hair, head, hat
    cv2.rectangle(lab, (_i(cx - 0.022 * u), _i(y_chin - 0.01 * u)), (_i(cx + 0.022 * u), _i(y_sh + 0.01 * u)),
                  SCARF if ident.scarf is not None else SKIN, -1)
    ax = (max(1, _i(head_w / 2)), max(1, _i(head_h / 2)))
    hair = ident.hair_style
    if hair == "long":
        if side:
            cv2.rectangle(lab, (_i(hx - head_w * 0.55), _i(hy)), (_i(hx), _i(y_sh + 0.08 * u)), HAIR, -1)
        else:
            cv2.rectangle(lab, (_i(hx - head_w * 0.58), _i(hy)), (_i(hx + head_w * 0.58),
                          _i(y_sh + (0.12 if view == "back" else 0.05) * u)), HAIR, -1)
    if hair == "ponytail" and view != "front":
        px = hx - (head_w * 0.55 if side else 0.0)
        cv2.ellipse(lab, (_i(px), _i(y_chin)), (max(1, _i(0.022 * u)), max(1, _i(0.05 * u))), 0, 0, 360, HAIR, -1)
    head_label = HAIR if (view == "back" and hair != "bald") else SKIN
    cv2.ellipse(lab, (_i(hx), _i(hy)), ax, 0, 0, 360, head_label, -1)
    if hair != "bald" and view != "back":
        cap_ax = (max(1, _i(head_w / 2 * 1.06)), max(1, _i(head_h / 2 * 0.78)))
        if side:
            cv2.ellipse(lab, (_i(hx), _i(hy)), (ax[0] + 1, ax[1] + 1), 0, 110, 330, HAIR, -1)
        else:
            cv2.ellipse(lab, (_i(hx), _i(hy - 0.06 * head_h)), cap_ax, 0, 180, 360, HAIR, -1)
    if ident.hat != "none":
        k = 0.72 if ident.hat == "cap" else 0.9
        cv2.ellipse(lab, (_i(hx), _i(hy - 0.08 * head_h)), (_i(head_w / 2 * 1.1) + 1, max(1, _i(head_h / 2 * k))),
                    0, 180, 360, HAT, -1)
        if ident.hat == "cap":
            by = _i(hy - 0.1 * head_h)
            if side:
                cv2.rectangle(lab, (_i(hx), by - t), (_i(hx + head_w * 0.9), by), HAT, -1)
            elif view == "front":
                cv2.rectangle(lab, (_i(hx - head_w * 0.6), by - t), (_i(hx + head_w * 0.6), by + t), HAT, -1)
    if view == "left":
        lab = np.ascontiguousarray(lab[:, ::-1])
        cx = ws - cx
    return lab, {"u": u, "top": top, "cx": cx, "y_sh": y_sh, "y_hip": y_hip, "sw": sw}


@lru_cache(maxsize=8)
def _grid(hs: int, ws: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:hs, 0:ws].astype(np.float32)
    return y, x


def _pattern(kind: str, period: float, ys: np.ndarray, xs: np.ndarray, block_y: float) -> np.ndarray | None:
    if kind == "hstripes":
        return (ys / period) % 1.0 < 0.5
    if kind == "vstripes":
        return (xs / period) % 1.0 < 0.5
    if kind == "checks":
        return ((ys / period) % 1.0 < 0.5) ^ ((xs / period) % 1.0 < 0.5)
    if kind == "diagonal":
        return ((xs + ys) / period) % 1.0 < 0.45
    if kind == "block":
        return ys > block_y
    return None


def colorize(lab: np.ndarray, ident: Identity, geo: dict[str, float], infrared: bool,
             y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Colour a label map: RGB float32 (h x w x 3); for infrared, NIR reflectance in all channels.

    ``y`` and ``x`` are the canvas coordinates of the pixels of ``lab`` (it may be a crop).
    """
    u = geo["u"]
    ys, xs = (y - geo["top"]) / u, (x - geo["cx"]) / u
    up, lo = ident.upper, ident.lower
    if infrared:
        table = np.zeros((12, 3), np.float32)
        for k, v in ((SKIN, ident.skin_ir), (HAIR, ident.hair_ir), (UPPER, up.ir), (LOWER, lo.ir),
                     (LSTRIPE, lo.ir2), (SHOES, ident.shoes_ir), (BAG, ident.bag_ir), (HAT, ident.hat_ir),
                     (SCARF, ident.scarf_ir), (LOGO, up.ir2)):
            table[k] = v
        table[SLEEVE] = up.ir2 if up.pattern == "sleeves" else up.ir
        c2u, c2l = np.full(3, up.ir2, np.float32), np.full(3, lo.ir2, np.float32)
    else:
        table = np.zeros((12, 3), np.float32)
        for k, c in ((SKIN, ident.skin), (HAIR, ident.hair_color), (UPPER, up.color), (LOWER, lo.color),
                     (LSTRIPE, lo.color2), (SHOES, ident.shoes), (BAG, ident.bag_color), (HAT, ident.hat_color),
                     (SCARF, ident.scarf or (0, 0, 0)), (LOGO, up.color2)):
            table[k] = c
        table[SLEEVE] = up.color2 if up.pattern == "sleeves" else up.color
        c2u, c2l = np.asarray(up.color2, np.float32), np.asarray(lo.color2, np.float32)
    img = table[lab]
    block_y = (geo["y_sh"] - geo["top"] + 0.45 * (geo["y_hip"] - geo["y_sh"])) / u
    pat = _pattern(up.pattern, up.period, ys, xs, block_y)
    if pat is not None:
        m = ((lab == UPPER) | (lab == SLEEVE)) & pat
        img[m] = c2u
    if lo.pattern == "checks":
        m = (lab == LOWER) & _pattern("checks", lo.period, ys, xs, 0.0)  # type: ignore[operator]
        img[m] = c2l
    return img


def render_image(ident: Identity | None, cam: Camera, rng: np.random.Generator, seed: int,
                 size: tuple[int, int], junk: bool = False) -> np.ndarray:
    """Render one image of ``ident`` by ``cam`` (uint8 BGR, ``size`` = (height, width)).

    ``ident=None`` renders a background-only junk crop; ``junk=True`` a badly framed detection.
    """
    h, w = size
    hs, ws = h * SUPERSAMPLE, w * SUPERSAMPLE
    bg = background(rng, seed, cam, hs, ws)
    if cam.infrared:
        bg = bg.mean(axis=2, keepdims=True) * 0.55 + 0.05
        bg = np.repeat(bg, 3, axis=2)
    img = bg
    if ident is not None:
        view = sample_view(rng, cam)
        scale = rng.uniform(*cam.scale)
        dx = rng.uniform(-cam.x_jitter, cam.x_jitter)
        dy = rng.uniform(-cam.y_jitter, cam.y_jitter)
        if junk:  # a bad detection: far too large and off-centre, or far too small
            if rng.random() < 0.6:
                scale, dx, dy = rng.uniform(1.5, 2.2), rng.uniform(-0.4, 0.4), rng.uniform(-0.5, 0.5)
            else:
                scale, dx = rng.uniform(0.3, 0.5), rng.uniform(-0.3, 0.3)
        lab, geo = draw_labels(ident, view, rng, hs, ws, scale, dx, dy)
        if cam.style == "target" and not cam.infrared:  # contact shadow under the feet
            u, foot = geo["u"], geo["top"] + geo["u"]
            ya, yb = max(0, _i(foot - 0.06 * u)), min(hs, _i(foot + 0.06 * u))
            xa, xb = max(0, _i(geo["cx"] - 0.22 * u)), min(ws, _i(geo["cx"] + 0.22 * u))
            if yb - ya > 2 and xb - xa > 2:
                shadow = np.zeros((yb - ya, xb - xa), np.float32)
                cv2.ellipse(shadow, (_i(geo["cx"]) - xa, _i(foot) - ya),
                            (_i(0.15 * u), max(1, _i(0.025 * u))), 0, 0, 360, 0.35, -1)
                img[ya:yb, xa:xb] *= (1.0 - cv2.GaussianBlur(shadow, (0, 0), 2.0))[..., None]
        x0, y0, bw, bh = cv2.boundingRect(lab)  # work on the person's bounding box only (speed)
        if bw > 0 and bh > 0:
            sl = (slice(y0, y0 + bh), slice(x0, x0 + bw))
            lab_c = lab[sl]
            gy, gx = _grid(hs, ws)
            y, x = gy[sl], gx[sl]
            person = colorize(lab_c, ident, geo, cam.infrared, y, x)
            # Shading: a cylinder-like fall-off across the body, light from above, fabric texture.
            half = max(1.0, 0.6 * geo["u"] * 0.25 * ident.build)
            shade = 1.0 - cam.shading * np.minimum(((x - geo["cx"]) / half) ** 2, 1.0)
            shade = shade * (1.0 + 0.12 * (0.5 - (y - geo["top"]) / geo["u"]))
            if cam.fabric > 0:
                low = rng.standard_normal((bh // 8 + 2, bw // 8 + 2), dtype=np.float32)
                shade = shade * (1.0 + cam.fabric * cv2.resize(low, (bw, bh), interpolation=cv2.INTER_CUBIC))
            person *= shade[..., None]
            np.copyto(img[sl], person, where=(lab_c > 0)[..., None])
    if rng.random() < cam.occlusion and not junk:
        occlude(rng, img)
    img = cv2.resize(np.clip(img, 0.0, 1.0), (w, h), interpolation=cv2.INTER_AREA)
    return develop(rng, img, cam)
