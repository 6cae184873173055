"""Identity appearance: the attributes that make one synthetic person look like themself.

An :class:`Identity` is a pure function of ``(seed, style, key)``: body proportions, skin, hair,
upper and lower garments (colour, second colour, pattern), shoes, bag, hat and scarf, plus the
near-infrared reflectance of each part (used by the IR cameras of the RGB-IR layout, where the
visible colour is lost but the material contrast stays).

The two styles draw from different wardrobes on purpose. ``source`` (PersonX-like synthetic
renders) wears saturated, clean colours; ``target`` (surveillance-footage-like) wears street
clothes: the same variety of hues, less saturated, with more neutrals, denim and earth tones.
(Version 1 gave the target a wardrobe of mostly dark neutrals; even a supervised model could
not tell those people apart within the demo's budget, so results on it meant little.) A model that
learned to tell source people apart by hue must adapt to separate target people.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

RGB = tuple[float, float, float]

STYLES = ("source", "target")
UPPER_PATTERNS = ("solid", "hstripes", "vstripes", "checks", "block", "logo", "diagonal", "sleeves")
LOWER_PATTERNS = ("solid", "sidestripe", "checks")
LOWER_KINDS = ("trousers", "shorts", "skirt")
HAIR_STYLES = ("short", "long", "bald", "ponytail")
BAGS = ("none", "backpack", "handbag", "shoulder")
HATS = ("none", "cap", "beanie")

# Pattern probabilities differ a little between styles (another small domain gap).
_UPPER_P = {
    "source": (0.34, 0.16, 0.06, 0.06, 0.10, 0.12, 0.06, 0.10),
    "target": (0.40, 0.10, 0.06, 0.12, 0.08, 0.12, 0.02, 0.10),
}
_LOWER_P = {"source": (0.70, 0.20, 0.10), "target": (0.75, 0.12, 0.13)}
_LOWER_KIND_P = {"source": (0.65, 0.2, 0.15), "target": (0.75, 0.12, 0.13)}
_BAG_P = {"source": (0.45, 0.25, 0.15, 0.15), "target": (0.40, 0.30, 0.15, 0.15)}
_HAT_P = {"source": (0.75, 0.15, 0.10), "target": (0.80, 0.12, 0.08)}

_SKIN = ((0.96, 0.80, 0.69), (0.90, 0.72, 0.58), (0.78, 0.58, 0.44), (0.62, 0.44, 0.32),
         (0.45, 0.31, 0.22), (0.33, 0.22, 0.16))
_HAIR = ((0.08, 0.06, 0.05), (0.22, 0.14, 0.08), (0.42, 0.28, 0.15), (0.75, 0.62, 0.38),
         (0.55, 0.55, 0.55), (0.50, 0.20, 0.10))


@dataclass(frozen=True)
class Garment:
    """One garment: main and second colour (RGB in 0..1), pattern, and NIR reflectances."""

    color: RGB
    color2: RGB
    pattern: str
    period: float  # pattern period as a fraction of the person's height
    ir: float
    ir2: float


@dataclass(frozen=True)
class Identity:
    """The appearance attributes of one synthetic person (see the module docstring)."""

    height: float  # fraction of the box the person fills vertically
    build: float  # width multiplier
    head: float  # head height / body height
    leg: float  # leg length / body height
    skin: RGB
    hair_color: RGB
    hair_style: str
    upper: Garment
    long_sleeves: bool
    lower: Garment
    lower_kind: str
    shoes: RGB
    bag: str
    bag_color: RGB
    bag_side: int  # +1 = person's right, -1 = left
    hat: str
    hat_color: RGB
    scarf: RGB | None
    skin_ir: float
    hair_ir: float
    shoes_ir: float
    bag_ir: float
    hat_ir: float
    scarf_ir: float


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return (r, g, b)


def sample_color(rng: np.random.Generator, style: str) -> RGB:
    """Draw one clothing colour from the wardrobe of ``style``."""
    u = rng.random()
    if style == "source":
        if u < 0.78:  # clean saturated colour
            return _hsv(rng.random(), rng.uniform(0.55, 1.0), rng.uniform(0.55, 1.0))
        return _hsv(0.0, 0.0, rng.uniform(0.08, 0.95))
    # Street clothes: the same variety of hues as the source wardrobe (people must stay
    # distinguishable), a little less saturated, plus more neutrals, denim and earth tones.
    if u < 0.62:  # a muted colour
        return _hsv(rng.random(), rng.uniform(0.4, 0.9), rng.uniform(0.45, 0.95))
    if u < 0.74:  # denim and earth tones
        if rng.random() < 0.5:
            return _hsv(rng.uniform(0.57, 0.63), rng.uniform(0.35, 0.7), rng.uniform(0.3, 0.75))
        return _hsv(rng.uniform(0.05, 0.13), rng.uniform(0.3, 0.65), rng.uniform(0.3, 0.85))
    return _hsv(0.0, 0.0, rng.uniform(0.08, 0.95))  # neutral, black to white


def _contrast_color(rng: np.random.Generator, style: str, base: RGB) -> RGB:
    """A second colour clearly different from ``base`` (patterns must be visible)."""
    for _ in range(8):
        c = sample_color(rng, style)
        if sum(abs(a - b) for a, b in zip(c, base)) > 0.6:
            return c
    return tuple(1.0 - x for x in base)  # type: ignore[return-value]


def _ir_of(rng: np.random.Generator, color: RGB) -> float:
    # NIR reflectance depends on the material far more than on the visible colour; keep a weak
    # link to lightness so the two modalities are related but not trivially so.
    lum = 0.3 * color[0] + 0.59 * color[1] + 0.11 * color[2]
    return float(np.clip(0.3 * lum + 0.7 * rng.uniform(0.1, 0.95), 0.05, 0.95))


def _garment(rng: np.random.Generator, style: str, patterns: tuple[str, ...],
             probs: tuple[float, ...]) -> Garment:
    color = sample_color(rng, style)
    color2 = _contrast_color(rng, style, color)
    pattern = str(rng.choice(patterns, p=np.asarray(probs) / sum(probs)))
    ir = _ir_of(rng, color)
    ir2 = float(np.clip(ir + rng.choice([-1, 1]) * rng.uniform(0.2, 0.45), 0.05, 0.95))
    return Garment(color, color2, pattern, float(rng.uniform(0.035, 0.08)), ir, ir2)


def sample_identity(rng: np.random.Generator, style: str) -> Identity:
    """Draw one person of ``style`` from ``rng`` (a fresh generator per identity)."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    upper = _garment(rng, style, UPPER_PATTERNS, _UPPER_P[style])
    lower = _garment(rng, style, LOWER_PATTERNS, _LOWER_P[style])
    lower_kind = str(rng.choice(LOWER_KINDS, p=_LOWER_KIND_P[style]))
    skin = _SKIN[int(rng.integers(len(_SKIN)))]
    skin = tuple(float(np.clip(c * rng.uniform(0.93, 1.07), 0, 1)) for c in skin)
    hair_style = str(rng.choice(HAIR_STYLES, p=(0.45, 0.3, 0.1, 0.15)))
    bag = str(rng.choice(BAGS, p=_BAG_P[style]))
    hat = str(rng.choice(HATS, p=_HAT_P[style]))
    scarf = sample_color(rng, style) if rng.random() < 0.12 else None
    bag_color = sample_color(rng, style)
    hat_color = sample_color(rng, style)
    shoes = sample_color(rng, style) if rng.random() < 0.4 else _hsv(0, 0, rng.uniform(0.05, 0.9))
    return Identity(
        height=float(rng.uniform(0.86, 0.98)),
        build=float(rng.uniform(0.8, 1.25)),
        head=float(rng.uniform(0.115, 0.145)),
        leg=float(rng.uniform(0.44, 0.52)),
        skin=skin,  # type: ignore[arg-type]
        hair_color=_HAIR[int(rng.integers(len(_HAIR)))],
        hair_style=hair_style,
        upper=upper,
        long_sleeves=bool(rng.random() < 0.55),
        lower=lower,
        lower_kind=lower_kind,
        shoes=shoes,
        bag=bag,
        bag_color=bag_color,
        bag_side=int(rng.choice([-1, 1])),
        hat=hat,
        hat_color=hat_color,
        scarf=scarf,
        skin_ir=float(rng.uniform(0.7, 0.95)),
        hair_ir=float(rng.uniform(0.1, 0.4)),
        shoes_ir=float(rng.uniform(0.05, 0.4)),
        bag_ir=_ir_of(rng, bag_color),
        hat_ir=_ir_of(rng, hat_color),
        scarf_ir=_ir_of(rng, scarf) if scarf is not None else 0.0,
    )
