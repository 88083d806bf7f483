"""Measuring a text box on its picture: the tight box of its ink and the colour the text is drawn in.

A DOM box is the font's content area, a trace box is matplotlib's layout box and an OCR box is already
tight; measuring all of them on pixels gives boxes and colours that agree when the pictures agree.
The text colour is that of the glyph cores (the pixels farthest from the local background), because
anti-aliased edges are blends of text and background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .blocks import RGB, Box, TextBlock
from .colors import rgb_tuple
from .perceptual import background_color
from .raster import RgbArray

MIN_CONTRAST = 32.0
"""RGB distance below which a box is considered to hold no visible ink (faint text, empty box)."""
INK_FRACTION = 0.35
"""A pixel is ink when its distance from the background is at least this share of the largest one."""
ROW_GAP = 0.15
"""Blank rows (a share of the box's height) that end a text's ink: more, and what lies beyond is a neighbour
(the next line's ascenders, an axis tick mark 6 px above its label in a 24 px OCR box), fewer bridge the
gaps inside a line (the dot of an "i", an accent)."""
CORE_FRACTION = 0.9
"""Glyph-core pixels, whose median is the text colour: at least this share of the largest distance."""


@dataclass(frozen=True)
class Ink:
    """What the pixels of one text box say: tight ink box, text and background colours, fill ratio."""

    box: Box
    color: RGB | None
    background: RGB
    fill: float
    """Share of the ink box covered by ink: about 0.8 for a solid dot (a bullet), 0.3-0.6 for letters."""


def _main_run(mask: npt.NDArray[np.bool_], weights: npt.NDArray[np.int64], gap: int) -> tuple[int, int]:
    """The run of True entries (gaps of up to ``gap`` bridged) holding the most weight (the first of
    equal ones)."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return 0, 0
    breaks = np.flatnonzero(np.diff(idx) > gap + 1)
    if breaks.size == 0:
        return int(idx[0]), int(idx[-1]) + 1
    starts = idx[np.concatenate(([0], breaks + 1))]
    ends = idx[np.concatenate((breaks, [idx.size - 1]))] + 1
    totals = np.concatenate(([0], np.cumsum(weights)))
    best = int(np.argmax(totals[ends] - totals[starts]))
    return int(starts[best]), int(ends[best])


def measure_ink(box: Box, rgb: RgbArray, margin: int = 2) -> Ink | None:
    """Measure the text inside ``box`` on ``rgb``; None if the box is off the picture or holds no ink.

    The background is read on a ring ``margin`` pixels outside the box (an OCR box is tight, so its
    own border is ink); ink is looked for inside the box only, so a neighbour just outside it does
    not widen it. Rows of ink that belong to a neighbouring line (a DOM content box can overlap the
    next line's ascenders) are cut off by keeping only the main vertical run of ink.
    """
    h, w = rgb.shape[:2]
    bx0, by0 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    bx1, by1 = min(w, math.ceil(box[2])), min(h, math.ceil(box[3]))
    if bx1 - bx0 < 1 or by1 - by0 < 1:
        return None
    x0, y0 = max(0, bx0 - margin), max(0, by0 - margin)
    x1, y1 = min(w, bx1 + margin), min(h, by1 + margin)
    bg = background_color(rgb[y0:y1, x0:x1])  # the local background
    inner = rgb[by0:by1, bx0:bx1].astype(np.int32)
    # Squared distances summed as integers (exact, as the float64 sum of these integers was), one root.
    d = inner - np.array(bg, dtype=np.int32)
    squares = d * d
    dist = np.sqrt((squares[..., 0] + squares[..., 1] + squares[..., 2]).astype(np.float64))
    top = float(dist.max())
    if top < MIN_CONTRAST:
        return None
    ink = dist >= INK_FRACTION * top
    row_counts = ink.sum(axis=1)
    gap = max(2, round(ROW_GAP * (box[3] - box[1])))
    r0, r1 = _main_run(row_counts > 0, row_counts, gap)
    ink[:r0] = False
    ink[r1:] = False
    cols = np.flatnonzero(ink.any(axis=0))
    rows = np.flatnonzero(ink.any(axis=1))
    if cols.size == 0 or rows.size == 0:
        return None
    ix0, ix1 = int(cols[0]), int(cols[-1]) + 1
    iy0, iy1 = int(rows[0]), int(rows[-1]) + 1
    core = ink & (dist >= CORE_FRACTION * top)
    cored = inner[core]
    colour = _median_rows(cored) if cored.size else None
    fill = int(np.count_nonzero(ink[iy0:iy1, ix0:ix1])) / ((iy1 - iy0) * (ix1 - ix0))
    return Ink(
        box=(float(bx0 + ix0), float(by0 + iy0), float(bx0 + ix1), float(by0 + iy1)),
        color=None if colour is None else rgb_tuple(colour),
        background=bg,
        fill=fill,
    )


def _median_rows(values: npt.NDArray[np.int32]) -> npt.NDArray[np.float64]:
    """``np.median(values, axis=0)`` of a non-empty (n, 3) integer array: the middle row of the sorted
    columns, or the mean of the two middle ones, without ``np.median``'s general machinery (it ran once
    per word and was a quarter of measuring one)."""
    ordered = np.sort(values, axis=0)
    n = ordered.shape[0]
    return np.asarray((ordered[(n - 1) // 2] + ordered[n // 2]) / 2, dtype=np.float64)


def measure_block(block: TextBlock, rgb: RgbArray) -> tuple[TextBlock, Ink | None]:
    """``block`` with its box tightened to its ink and its colour read from the pixels."""
    ink = measure_ink(block.box, rgb)
    if ink is None:
        return block.model_copy(update={"color": None}), None
    return block.model_copy(update={"box": ink.box, "color": ink.color}), ink
