"""Colour science for comparing text and series colours: sRGB to CIELAB, and CIEDE2000.

Colour differences are judged in CIELAB with CIEDE2000 because equal steps there look about equally
different to a person; RGB distances would call a dark-blue shift tiny and a yellow shift huge. As a
rule of thumb a ΔE00 of about 2 is just noticeable, 5 is clear, and different hues are 30 and more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

RGB = tuple[int, int, int]
FloatArray = npt.NDArray[np.float64]

_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)


def rgb_to_lab(rgb: npt.ArrayLike) -> FloatArray:
    """CIELAB (D65) of sRGB colours given as 0..255 values in the last axis (any leading shape)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _SRGB_TO_XYZ.T / _WHITE_D65
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def chroma(rgb: npt.ArrayLike) -> FloatArray:
    """CIELAB chroma (how far from grey) of sRGB colours given as 0..255 values in the last axis."""
    lab = rgb_to_lab(rgb)
    return np.asarray(np.hypot(lab[..., 1], lab[..., 2]))


def ciede2000(lab1: npt.ArrayLike, lab2: npt.ArrayLike) -> FloatArray:
    """CIEDE2000 colour difference (Sharma, Wu and Dalal 2005), broadcasting over leading axes."""
    a = np.asarray(lab1, dtype=np.float64)
    b = np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = a[..., 0], a[..., 1], a[..., 2]
    l2, a2, b2 = b[..., 0], b[..., 1], b[..., 2]
    c1 = np.hypot(a1, b1)
    c2 = np.hypot(a2, b2)
    c_mean7 = ((c1 + c2) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c_mean7 / (c_mean7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    zero = (c1p * c2p) == 0
    dlp = l2 - l1
    dcp = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(zero, 0.0, dh)
    dhp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    lp_mean = (l1 + l2) / 2
    cp_mean = (c1p + c2p) / 2
    hsum = h1p + h2p
    hp_mean = np.where(
        zero,
        hsum,
        np.where(
            np.abs(h1p - h2p) <= 180,
            hsum / 2,
            np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2),
        ),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(hp_mean - 30))
        + 0.24 * np.cos(np.radians(2 * hp_mean))
        + 0.32 * np.cos(np.radians(3 * hp_mean + 6))
        - 0.20 * np.cos(np.radians(4 * hp_mean - 63))
    )
    d_theta = 30 * np.exp(-(((hp_mean - 275) / 25) ** 2))
    cp_mean7 = cp_mean**7
    r_c = 2 * np.sqrt(cp_mean7 / (cp_mean7 + 25.0**7))
    s_l = 1 + (0.015 * (lp_mean - 50) ** 2) / np.sqrt(20 + (lp_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.asarray(
        np.sqrt((dlp / s_l) ** 2 + (dcp / s_c) ** 2 + (dhp / s_h) ** 2 + r_t * (dcp / s_c) * (dhp / s_h)),
        dtype=np.float64,
    )


def delta_e(rgb1: Sequence[int], rgb2: Sequence[int]) -> float:
    """CIEDE2000 between two sRGB colours; exactly 0.0 for equal colours."""
    if tuple(rgb1) == tuple(rgb2):
        return 0.0
    return float(ciede2000(rgb_to_lab(rgb1), rgb_to_lab(rgb2)))


def rgb_tuple(values: npt.ArrayLike) -> RGB:
    """An ``(r, g, b)`` tuple of ints from three numbers (rounded, clipped to 0..255)."""
    v = np.clip(np.rint(np.asarray(values, dtype=np.float64)[:3]), 0, 255).astype(np.int64)
    return (int(v[0]), int(v[1]), int(v[2]))


def to_hex(rgb: Sequence[int]) -> str:
    """``#rrggbb`` of an sRGB colour."""
    r, g, b = (max(0, min(255, int(v))) for v in rgb[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def parse_hex(text: str) -> RGB:
    """The sRGB colour of ``#rgb`` or ``#rrggbb`` (matplotlib's ``to_hex`` and CSS both write these)."""
    value = text.strip().lstrip("#")
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    if len(value) not in (6, 8) or any(ch not in "0123456789abcdefABCDEF" for ch in value):
        raise ValueError(f"not a hex colour: {text!r}")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def similarity_from_delta_e(de: float, scale: float) -> float:
    """1 for equal colours, falling linearly to 0 at a ΔE00 of ``scale``."""
    if de <= 0:
        return 1.0
    return max(0.0, 1.0 - de / scale) if math.isfinite(de) else 0.0
