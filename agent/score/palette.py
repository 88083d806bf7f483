"""The dominant colours of a picture, and how alike two palettes are.

For charts the target's series colours can only be read from its pixels, so both pictures are read the
same way: colours quantised, anti-aliasing tints (blends of a colour with the background) folded into
their colour, near-identical colours merged (ΔE00 below ``MERGE_DELTA_E``), small ones dropped. With
``chromatic_only`` greys, white and black (text, axes, backgrounds) are ignored: what is left is, for a
chart, one colour per series (or per bar/wedge when those are coloured individually).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict

from .colors import RGB, chroma, ciede2000, rgb_to_lab, rgb_tuple, similarity_from_delta_e
from .matching import assign
from .perceptual import background_color
from .raster import RgbArray, downscale

SIDE = 320
"""Pictures are sampled down (nearest neighbour, so no new blended colours) to this longest side."""
MIN_CHROMA = 18.0
"""CIELAB chroma below which a colour counts as grey."""
MERGE_DELTA_E = 10.0
LARGE_AREA = 0.03
"""Share of a page's pixels from which a colour is a background or a large area (a panel, a button)."""
LARGE_AREA_DELTA_E = 5.0
"""ΔE00 under which a page's large colour has its counterpart in the other palette (2 is just noticeable;
5 is clear)."""
TINT_RESIDUAL = 14.0
"""RGB distance from the colour-to-background segment within which a colour is a tint (an edge blend)."""


class PaletteColor(BaseModel):
    model_config = ConfigDict(frozen=True)

    rgb: RGB
    share: float
    """Share of the counted pixels (all pixels, or the chromatic ones with ``chromatic_only``)."""


def tint_of(colours: np.ndarray, of: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Which rows of ``colours`` are tints of ``of``: within ``TINT_RESIDUAL`` of the segment from the
    background to it, strictly between the two."""
    direction = of - background
    norm = float((direction * direction).sum())
    if norm == 0:
        return np.zeros(len(colours), dtype=bool)
    t = ((colours - background) * direction).sum(axis=1) / norm
    residual = colours - (background + t[:, None] * direction)
    return np.asarray((t > 0.0) & (t < 1.0) & (np.sqrt((residual * residual).sum(axis=1)) <= TINT_RESIDUAL))


def colour_bins(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The colours of ``pixels`` (rows of r, g, b) in bins of 8 levels a channel: each bin's mean colour
    and its pixel count, in bin order."""
    q = (pixels // 8).astype(np.int64)
    keys = (q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    means = np.stack([np.bincount(inverse, weights=pixels[:, c].astype(np.float64)) / counts for c in range(3)], axis=1)
    return means, counts


def dominant_colors(
    rgb: RgbArray,
    *,
    chromatic_only: bool = True,
    max_colors: int = 8,
    min_share: float = 0.02,
    merge_delta_e: float = MERGE_DELTA_E,
    side: int = SIDE,
) -> tuple[PaletteColor, ...]:
    """Up to ``max_colors`` dominant colours with their shares, largest first.

    ``merge_delta_e`` is the ΔE00 under which colours count as one: 10 suits chart series; page
    backgrounds need less (a white card on a #f1f5f9 page is a ΔE of about 3).
    """
    pixels = downscale(rgb, side, Image.Resampling.NEAREST).reshape(-1, 3)
    background = np.array(background_color(rgb), dtype=np.float64)
    if chromatic_only:
        pixels = pixels[chroma(pixels) >= MIN_CHROMA]
    total = len(pixels)
    if total == 0:
        return ()
    means, counts = colour_bins(pixels)
    order = np.argsort(-counts, kind="stable")[:512]
    labs = rgb_to_lab(means[order])
    # First match: in order of size, a colour joins the earliest cluster it is close to or a tint of, or
    # starts one. Each new cluster is compared with every colour after it at once (a few calls in all,
    # not one per colour), and a colour's first hit is kept as clusters are made.
    colours = means[order]
    first_hit = np.full(len(order), -1, dtype=np.int64)
    c_rgb: list[np.ndarray] = []
    c_count: list[int] = []
    for pos in range(len(order)):
        owner = int(first_hit[pos])
        if owner >= 0:
            c_count[owner] += int(counts[order[pos]])
            continue
        new = len(c_rgb)
        c_rgb.append(colours[pos])
        c_count.append(int(counts[order[pos]]))
        later = slice(pos + 1, None)
        hit = (ciede2000(labs[later], labs[pos][None, :]) < merge_delta_e) | tint_of(
            colours[later], colours[pos], background
        )
        free = first_hit[later] < 0
        first_hit[later][hit & free] = new
    n = len(c_rgb)
    ranked = sorted(range(n), key=lambda i: -c_count[i])
    out = [
        PaletteColor(rgb=rgb_tuple(c_rgb[i]), share=int(c_count[i]) / total)
        for i in ranked
        if c_count[i] / total >= min_share
    ]
    return tuple(out[:max_colors])


def palette_similarity(
    a: Sequence[PaletteColor], b: Sequence[PaletteColor], scale: float
) -> tuple[float, list[tuple[int, int, float]]]:
    """How alike two palettes are, in [0, 1], and the colour pairs (index in a, index in b, ΔE00).

    Colours are paired one to one (minimum total ΔE00); each side's share-weighted mean similarity of
    its colours (0 for a colour left unpaired) is taken, and the two sides averaged, so both missing
    and extra colours cost. Two empty palettes are alike (1.0); one empty one is not (0.0).
    """
    if not a and not b:
        return 1.0, []
    if not a or not b:
        return 0.0, []
    de = ciede2000(rgb_to_lab([c.rgb for c in a])[:, None, :], rgb_to_lab([c.rgb for c in b])[None, :, :])
    pairs = [(i, j, 0.0 if a[i].rgb == b[j].rgb else float(de[i, j])) for i, j in assign(de)]
    sim_a = [0.0] * len(a)
    sim_b = [0.0] * len(b)
    for i, j, d in pairs:
        s = similarity_from_delta_e(d, scale)
        sim_a[i] = sim_b[j] = s
    share_a = math.fsum(c.share for c in a)
    share_b = math.fsum(c.share for c in b)
    side_a = math.fsum(c.share * s for c, s in zip(a, sim_a, strict=True)) / share_a
    side_b = math.fsum(c.share * s for c, s in zip(b, sim_b, strict=True)) / share_b
    return min(1.0, (side_a + side_b) / 2), pairs
