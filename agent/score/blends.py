"""Edge blends that one picture's palette reads as colours of their own, taken back to the colour they
blend.

A thin stroke (a line, an error bar, a hatch, a box's edge) that falls between pixel rows is drawn by
matplotlib's Agg as two rows of its colour blended with what lies under it (the background, a pale
fill, a black edge), while a PDF rasteriser may draw the same stroke as one solid row, or the other way
round. Read alone, each picture's palette keeps whatever it has the most of: a chart whose thin lines
are all blends has a palette colour ("#93bdda") the other picture lacks, and its series colour shows up
as a colour it does not draw. Where the first-match clustering in ``palette.py`` cannot see it (the
blend outnumbers the solid colour, or it blends with a grey other than the background), the other
picture can: a colour ``X`` of one palette is the colour ``P`` of the other palette when

- ``X`` lies between ``P`` and a grey the picture draws (``palette.tint_of``),
- ``X``'s pixels are thin (strokes and edges; an area in a lighter shade is a colour of its own), and
- the other picture draws ``P`` where this one draws ``X``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image

from .align import SAME_CANVAS, Affine
from .colors import RGB, chroma, ciede2000, rgb_to_lab
from .evidence import COLOR_REACH, COVERED, colour_mask
from .palette import MERGE_DELTA_E, MIN_CHROMA, SIDE, PaletteColor, colour_bins, tint_of
from .perceptual import background_color
from .raster import RgbArray, downscale

EDGES = ((0, 0, 0), (255, 255, 255))
"""Always among the greys: black edges and white gaps are drawn thin, so they may be too few to count."""
GREY_SHARE = 0.01
"""Share of a picture's pixels a grey needs to count as something strokes are drawn over."""
MAX_GREYS = 6
BLEND_DISTANCE = 12
"""Per-channel distance of the pixels taken as a blend colour's own: a blend is a cluster's mean, and
the wider mask of ``evidence`` also takes in the greys it lies close to."""
THIN_CORE = 0.25
"""Largest share of a colour's pixels whose four neighbours are all of that colour for it to be thin:
a stroke two pixels wide has none, a filled area nearly all."""


def greys(rgb: RgbArray) -> npt.NDArray[np.float64]:
    """The background, black, white and the picture's frequent low-chroma colours (axes backgrounds,
    pale fills): what a stroke's edge pixels are blends with."""
    pixels = downscale(rgb, SIDE, Image.Resampling.NEAREST).reshape(-1, 3)
    means, counts = colour_bins(pixels)
    frequent = np.flatnonzero(counts >= GREY_SHARE * len(pixels))
    frequent = frequent[chroma(means[frequent]) < MIN_CHROMA]
    frequent = frequent[np.argsort(-counts[frequent], kind="stable")][:MAX_GREYS]
    return np.vstack([np.array([background_color(rgb), *EDGES], dtype=np.float64), means[frequent]])


def thin(mask: npt.NDArray[np.bool_]) -> bool:
    """Whether the marked pixels are strokes and edges rather than areas."""
    count = int(mask.sum())
    if count == 0:
        return False
    core = mask.copy()
    core[1:, :] &= mask[:-1, :]
    core[:-1, :] &= mask[1:, :]
    core[:, 1:] &= mask[:, :-1]
    core[:, :-1] &= mask[:, 1:]
    core[0, :] = core[-1, :] = False
    core[:, 0] = core[:, -1] = False
    return int(core.sum()) <= THIN_CORE * count


def is_blend(x: RGB, of: RGB, under: npt.NDArray[np.float64]) -> bool:
    """Whether ``x`` lies between ``of`` and one of the greys ``under``, with less colour than ``of``
    (of two colours each between the other and some grey, a green and its darker shade, the stronger
    one is what was drawn)."""
    if x == of or float(chroma([of])[0]) <= float(chroma([x])[0]):
        return False
    xs = np.array([x], dtype=np.float64)
    target = np.array(of, dtype=np.float64)
    return any(bool(tint_of(xs, target, grey)[0]) for grey in under)


MAX_POINTS = 4000
"""Most of a colour's pixels looked up on the other picture (evenly spaced): a share needs no more."""


def _reach_offsets(reach: int) -> list[tuple[int, int]]:
    return [
        (dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1) if abs(dy) + abs(dx) <= reach
    ]


def covered_share(mine: npt.NDArray[np.bool_], theirs: npt.NDArray[np.bool_], to_other: Affine = SAME_CANVAS) -> float:
    """Share of ``mine``'s pixels that land, mapped by ``to_other``, within ``COLOR_REACH`` four-neighbour
    steps of one of ``theirs``; pixels mapped off the other picture are not covered."""
    ys, xs = np.nonzero(mine)
    if ys.size == 0:
        return 0.0
    step = max(1, ys.size // MAX_POINTS)
    ys, xs = ys[::step], xs[::step]
    sx, sy, ox, oy = to_other
    x2 = np.rint(ox + sx * xs).astype(np.int64)
    y2 = np.rint(oy + sy * ys).astype(np.int64)
    h, w = theirs.shape
    inside = (x2 >= 0) & (y2 >= 0) & (x2 < w) & (y2 < h)
    x2, y2 = x2[inside], y2[inside]
    hit = np.zeros(x2.size, dtype=bool)
    # The other picture's mask grown by the reach, looked up only at these points.
    for dy, dx in _reach_offsets(COLOR_REACH):
        hit |= theirs[np.clip(y2 + dy, 0, h - 1), np.clip(x2 + dx, 0, w - 1)]
    return float(hit.sum()) / ys.size


def drawn_as(
    own: RgbArray,
    x: RGB,
    other: RgbArray,
    p: RGB,
    to_other: Affine = SAME_CANVAS,
    under: npt.NDArray[np.float64] | None = None,
) -> bool:
    """Whether ``own``'s colour ``x`` is thin edge blends of ``p`` (with one of ``under``, by default
    ``own``'s greys) that ``other`` draws as ``p`` at the same places."""
    if not is_blend(x, p, greys(own) if under is None else under):
        return False
    mine = colour_mask(own, x, BLEND_DISTANCE)
    return thin(mine) and covered_share(mine, colour_mask(other, p), to_other) >= COVERED


def reconcile_blends(
    own: RgbArray,
    palette: Sequence[PaletteColor],
    other: RgbArray,
    other_palette: Sequence[PaletteColor],
    to_other: Affine = SAME_CANVAS,
    under: npt.NDArray[np.float64] | None = None,
) -> tuple[PaletteColor, ...]:
    """``palette`` (read from ``own``, as drawn) with each colour that is a thin blend of one of
    ``other_palette``'s colours, drawn by ``other`` as that colour at the same places (``to_other`` maps
    ``own``'s pixels onto ``other``; ``under``: ``greys(own)`` if known), counted as that colour."""
    if not palette or not other_palette:
        return tuple(palette)
    under = greys(own) if under is None else under
    taken: dict[int, RGB] = {}
    for i, c in enumerate(palette):
        if any(p.rgb == c.rgb for p in other_palette):
            continue  # drawn in both palettes as it is: nothing to take back
        for p in other_palette:
            if drawn_as(own, c.rgb, other, p.rgb, to_other, under):
                taken[i] = p.rgb
                break
    if not taken:
        return tuple(palette)
    merged: dict[RGB, float] = {}
    for i, c in enumerate(palette):
        rgb = taken.get(i, c.rgb)
        # Onto the palette's own colour for it, where it has one (a solid part of the same strokes).
        same = [
            q.rgb
            for j, q in enumerate(palette)
            if j not in taken and float(ciede2000(rgb_to_lab([q.rgb]), rgb_to_lab([rgb]))[0]) < MERGE_DELTA_E
        ]
        key = same[0] if same else rgb
        merged[key] = merged.get(key, 0.0) + c.share
    return tuple(PaletteColor(rgb=rgb, share=share) for rgb, share in sorted(merged.items(), key=lambda kv: -kv[1]))
