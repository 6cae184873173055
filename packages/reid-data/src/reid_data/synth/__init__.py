"""Built-in synthetic re-ID data: rendered people in the Market-1501 and SYSU-MM01 layouts."""

from __future__ import annotations

from ._camera import Camera as Camera
from ._camera import sample_camera as sample_camera
from ._generate import MODALITIES as MODALITIES
from ._generate import synthesize as synthesize
from ._identity import STYLES as STYLES
from ._identity import Garment as Garment
from ._identity import Identity as Identity
from ._identity import sample_identity as sample_identity
from ._render import render_image as render_image

__all__ = [
    "MODALITIES",
    "STYLES",
    "Camera",
    "Garment",
    "Identity",
    "render_image",
    "sample_camera",
    "sample_identity",
    "synthesize",
]
