"""Whether two pictures draw the same thing at one place: the evidence a text finding needs.

The target's texts come from OCR and the candidate's from its trace or DOM, so the two sides misread
differently: OCR reads part of a title, splits a word, or reads a legend swatch or a marker as "(ou".
Reading the candidate's render with OCR too would cost seconds per candidate; comparing pixels costs
microseconds. Once the candidate is on the target's canvas (``align.py``), a text that OCR found on the
target is really missing from the candidate only if the candidate's pixels there differ from the
target's, and a text reads differently only if its pixels do. ``agreement`` is that comparison: the
normalised cross-correlation of the two blurred greyscale patches, at the best of small shifts (a
render from another machine lands a pixel or two away).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .blocks import Box
from .raster import PictureCache, RgbArray

SHIFT = 2
"""Largest shift (pixels) tried in each direction."""
MARGIN = 2
"""Pixels added around the box before comparing (ink of a tight box touches its edges)."""
SAME = 0.75
"""Agreement at or above which two patches are taken to draw the same thing (measured on the
calibration halves: right answers' patches agree at 0.85-1.0, a changed text at 0.1-0.6)."""

_GREY = np.array([0.299, 0.587, 0.114])
COLOR_DISTANCE = 30
"""Largest per-channel difference for a pixel to count as drawn in a given colour."""


def _grey(rgb: RgbArray) -> npt.NDArray[np.float64]:
    return np.asarray(rgb.astype(np.float64) @ _GREY, dtype=np.float64)


def _blur(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """3x3 box blur (edges repeated): what resampling and anti-aliasing change, it evens out."""
    p = np.pad(x, 1, mode="edge")
    return np.asarray(
        sum(p[dy : dy + x.shape[0], dx : dx + x.shape[1]] for dy in range(3) for dx in range(3)) / 9.0,
        dtype=np.float64,
    )


def agreement(
    target: RgbArray, candidate: RgbArray, box: Box, shift: int = -1, offset: tuple[int, int] = (0, 0)
) -> float:
    """How alike the two pictures are inside ``box`` (pixels of both, same canvas): the best normalised
    cross-correlation over shifts of the candidate up to ``shift`` pixels (by default ``SHIFT`` or a third
    of the box's height, whichever is more, at most 8); 1.0 for equal pixels, about 0
    for unrelated ones; 0 where the box is not on both pictures (the same coordinates are used on both,
    or on the candidate moved by ``offset``: where a page laid out a little taller above puts it)."""
    return best_match(target, candidate, box, shift, offset)[0]


def best_match(
    target: RgbArray, candidate: RgbArray, box: Box, shift: int = -1, offset: tuple[int, int] = (0, 0)
) -> tuple[float, tuple[int, int]]:
    """``agreement`` and where the candidate's pixels match best: the offset, in whole pixels, at which
    the candidate draws what the target draws in ``box`` (``offset`` plus the best shift)."""
    ox, oy = offset
    if ox or oy:
        (th, tw), (ch, cw) = target.shape[:2], candidate.shape[:2]
        if box[0] < 0 or box[1] < 0 or box[2] > tw or box[3] > th:
            return 0.0, offset
        if box[0] + ox < 0 or box[1] + oy < 0 or box[2] + ox > cw or box[3] + oy > ch:
            return 0.0, offset  # off one of the pictures: nothing to compare with
        x0, y0 = math.floor(box[0]) - MARGIN, math.floor(box[1]) - MARGIN
        x1, y1 = math.ceil(box[2]) + MARGIN, math.ceil(box[3]) + MARGIN
        # Both pictures cut to the box's surroundings, the candidate's moved by the offset: one canvas again.
        pad = 8 + MARGIN
        t_cut = _crop(target, x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        c_cut = _crop(candidate, x0 + ox - pad, y0 + oy - pad, x1 + ox + pad, y1 + oy + pad)
        local = (box[0] - x0 + pad, box[1] - y0 + pad, box[2] - x0 + pad, box[3] - y0 + pad)
        score, (sx, sy) = best_match(t_cut, c_cut, local, shift)
        return score, (ox + sx, oy + sy)
    h = min(target.shape[0], candidate.shape[0])
    w = min(target.shape[1], candidate.shape[1])
    if box[2] > w or box[3] > h:
        return 0.0, (0, 0)  # off one of the pictures: nothing to compare with
    if shift < 0:
        # A third of the text's height: renders at another dpi place a legend or label a few pixels off.
        shift = max(SHIFT, min(8, round(0.35 * (box[3] - box[1]))))
    x0 = max(0, math.floor(box[0]) - MARGIN)
    y0 = max(0, math.floor(box[1]) - MARGIN)
    x1 = min(w, math.ceil(box[2]) + MARGIN)
    y1 = min(h, math.ceil(box[3]) + MARGIN)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 1.0, (0, 0)
    t = target[y0:y1, x0:x1]
    cx0, cy0 = max(0, x0 - shift), max(0, y0 - shift)
    cx1, cy1 = min(w, x1 + shift), min(h, y1 + shift)
    c = candidate[cy0:cy1, cx0:cx1]
    if np.array_equal(t, candidate[y0:y1, x0:x1]):
        return 1.0, (0, 0)
    tg = _blur(_grey(t))
    cg = _blur(_grey(c))
    a = tg - tg.mean()
    num, var_b = _correlations(a, cg)
    den = np.sqrt(float((a * a).sum()) * var_b)
    ncc = np.where(den > 1e-9, num / np.maximum(den, 1e-12), 0.0)
    if float((a * a).sum()) < 1e-9:
        ncc = np.where(var_b < 1e-9, 1.0, 0.0)
    at = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
    best = float(ncc[at])
    return max(0.0, min(1.0, best)), (cx0 + int(at[1]) - x0, cy0 + int(at[0]) - y0)


def _crop(rgb: RgbArray, x0: int, y0: int, x1: int, y1: int) -> RgbArray:
    """``rgb[y0:y1, x0:x1]``, its edges repeated where the window leaves the picture."""
    h, w = rgb.shape[:2]
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    part = rgb[cy0:cy1, cx0:cx1]
    return np.pad(part, ((cy0 - y0, y1 - cy1), (cx0 - x0, x1 - cx1), (0, 0)), mode="edge")


def _window_sums(x: npt.NDArray[np.float64], ph: int, pw: int) -> npt.NDArray[np.float64]:
    """Sums of ``x`` over every ``ph`` x ``pw`` window (valid positions), from an integral image."""
    s = np.zeros((x.shape[0] + 1, x.shape[1] + 1))
    s[1:, 1:] = x.cumsum(0).cumsum(1)
    return np.asarray(s[ph:, pw:] - s[:-ph, pw:] - s[ph:, :-pw] + s[:-ph, :-pw], dtype=np.float64)


def _correlations(
    a: npt.NDArray[np.float64], c: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """For every placement of the zero-mean patch ``a`` inside ``c``: the sum of ``a`` times ``c``'s window
    (which equals the sum with the window's mean removed, ``a`` having none), and the window's variance
    times its size. The products by FFT and the window statistics by integral images: the direct sum
    over every shift cost as much as the rest of the chart score."""
    ph, pw = a.shape
    shape = c.shape
    spectrum = np.fft.rfft2(c, shape) * np.conj(np.fft.rfft2(a, shape))
    num = np.fft.irfft2(spectrum, shape)[: shape[0] - ph + 1, : shape[1] - pw + 1]
    n = float(ph * pw)
    s1 = _window_sums(c, ph, pw)
    s2 = _window_sums(c * c, ph, pw)
    var_b = np.maximum(s2 - s1 * s1 / n, 0.0)
    return np.asarray(num, dtype=np.float64), np.asarray(var_b, dtype=np.float64)


def same_drawing(
    target: RgbArray, candidate: RgbArray, box: Box, threshold: float = SAME, offset: tuple[int, int] = (0, 0)
) -> bool:
    """Whether both pictures draw the same thing in ``box`` (``agreement`` at least ``threshold``), the
    candidate's thing ``offset`` pixels away."""
    return agreement(target, candidate, box, offset=offset) >= threshold


COVERED = 0.5
"""Share of one picture's pixels of a colour that the other must have in that colour nearby (within
``COLOR_REACH`` pixels) for the colour to be the same there."""
COLOR_REACH = 3


_BINS = np.arange(32, dtype=np.int16) * 8 + 4
"""Centres of the 32 levels per channel a picture is indexed by for colour masks."""
_INDEXES: PictureCache[npt.NDArray[np.uint16]] = PictureCache(9)


def colour_index(rgb: RgbArray) -> npt.NDArray[np.uint16]:
    """Each pixel's 15-bit colour bin (5 bits a channel), computed once per picture and reused (in 16-bit
    integers: the bins fit, and a picture's index costs half what it did in 32)."""

    def make() -> npt.NDArray[np.uint16]:
        q = rgb >> 3
        bins = (q[..., 0].astype(np.uint16) << 10) | (q[..., 1].astype(np.uint16) << 5) | q[..., 2]
        return np.asarray(bins, np.uint16)

    return _INDEXES.get(rgb, make)


def colour_mask(rgb: RgbArray, color: tuple[int, int, int], distance: int = COLOR_DISTANCE) -> npt.NDArray[np.bool_]:
    """The pixels drawn in about ``color`` (each channel within ``distance``, to the 8-level bins):
    one table look-up per pixel, so a picture's masks for many colours cost little."""
    near = [np.abs(_BINS - np.int16(v)) <= distance + 4 for v in color]
    lut = (near[0][:, None, None] & near[1][None, :, None] & near[2][None, None, :]).reshape(-1)
    return np.asarray(lut[colour_index(rgb)], dtype=np.bool_)


def _dilate(mask: npt.NDArray[np.bool_], reach: int) -> npt.NDArray[np.bool_]:
    out = mask.copy()
    for _ in range(reach):
        grown = out.copy()
        grown[1:, :] |= out[:-1, :]
        grown[:-1, :] |= out[1:, :]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def colour_covered(has: RgbArray, other: RgbArray, color: tuple[int, int, int]) -> bool:
    """Whether ``other`` draws ``color`` where ``has`` does (most of ``has``'s pixels of that colour have
    one of ``other``'s within a few pixels): then a palette difference in that colour is an artefact of
    reading the two palettes (a colour map's shades, blends, a swatch), not a difference of the
    pictures. Pictures of different sizes are never covered."""
    if has.shape != other.shape:
        return False
    mine = colour_mask(has, color)
    count = int(mine.sum())
    if count == 0:
        return True
    theirs = _dilate(colour_mask(other, color), COLOR_REACH)
    return int((mine & theirs).sum()) >= COVERED * count


PRESENT = 0.5
"""Share of one picture's amount of a colour (as a fraction of its area) that the other must have, anywhere,
for the colour to be in both palettes."""


def colour_present(has: RgbArray, other: RgbArray, color: tuple[int, int, int], distance: int = COLOR_DISTANCE) -> bool:
    """Whether ``other`` draws ``color`` about as much as ``has`` does, wherever it does: the test of a
    palette claim ("the candidate uses #x, a colour the target does not have"), which is about the
    colours drawn and not where. A layout that differs a little (another font size) moves a colour's
    areas out of ``colour_covered``'s reach without making the colour absent."""
    mine = float(colour_mask(has, color, distance).mean())
    if mine == 0.0:
        return True
    return float(colour_mask(other, color, distance).mean()) >= PRESENT * mine
