"""Putting a chart render on the target picture's canvas before comparing them.

A chart picture says nothing of the resolution or margins it was saved with: ChartMimic's pictures are
PDFs saved with ``bbox_inches="tight"`` and rasterised at 120 dpi, a user's screenshot is whatever the
screen was. The candidate is therefore rendered at its own size (its figure size at its own dpi), and
here both pictures are cut to their content (everything that is not the border's background colour)
and the candidate's content is scaled onto the target's content box. Differences of dpi and of blank
margins then cost nothing, while everything drawn (where, how large relative to the chart, what
colour) is compared as a person comparing the two pictures side by side would. A different shape of
the content (aspect ratio) is kept as a finding (``Alignment.aspect``), since scaling hides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from .blocks import Box, TextBlock
from .perceptual import background_color
from .raster import RgbArray

Affine = tuple[float, float, float, float]
"""``(sx, sy, ox, oy)``: a pixel ``(x, y)`` of one picture is at ``(ox + sx * x, oy + sy * y)`` on the
other."""
SAME_CANVAS: Affine = (1.0, 1.0, 0.0, 0.0)

CONTENT_TOLERANCE = 24
"""RGB distance from the border's background colour above which a pixel is content."""


@dataclass(frozen=True)
class Alignment:
    """How the candidate was mapped: ``x' = ox + sx * x`` (and likewise y), and the result."""

    rgb: RgbArray
    sx: float = 1.0
    sy: float = 1.0
    ox: float = 0.0
    oy: float = 0.0
    aspect: float = 1.0
    """Candidate content aspect (w/h) over the target's: 1.0 when the shapes agree."""

    @property
    def identity(self) -> bool:
        return self.sx == 1.0 and self.sy == 1.0 and self.ox == 0.0 and self.oy == 0.0

    @property
    def forward(self) -> Affine:
        """The candidate's pixels onto the target's canvas."""
        return (self.sx, self.sy, self.ox, self.oy)

    @property
    def backward(self) -> Affine:
        """The target's pixels onto the candidate as drawn."""
        return (1 / self.sx, 1 / self.sy, -self.ox / self.sx, -self.oy / self.sy)

    def box(self, box: Box) -> Box:
        return (
            self.ox + self.sx * box[0],
            self.oy + self.sy * box[1],
            self.ox + self.sx * box[2],
            self.oy + self.sy * box[3],
        )

    def block(self, block: TextBlock) -> TextBlock:
        return block if self.identity else block.model_copy(update={"box": self.box(block.box)})


def content_box(rgb: RgbArray, tolerance: int = CONTENT_TOLERANCE) -> tuple[int, int, int, int] | None:
    """The smallest box (x0, y0, x1, y1) holding every pixel unlike the border's background colour."""
    # |value - background| > tolerance in some channel, compared as uint8 rows of (r, g, b) values
    # without a wider copy (a bound of 0 or 255 is one no uint8 value passes).
    h, w = rgb.shape[:2]
    bg = background_color(rgb)
    low = np.tile(np.array([max(0, v - tolerance) for v in bg], dtype=np.uint8), w)
    high = np.tile(np.array([min(255, v + tolerance) for v in bg], dtype=np.uint8), w)
    values = np.ascontiguousarray(rgb).reshape(h, w * 3)
    mask = (values < low) | (values > high)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0).reshape(w, 3).any(axis=1))
    if rows.size == 0 or cols.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def align(
    candidate: RgbArray, target: RgbArray, target_box: tuple[int, int, int, int] | Literal["measure"] | None = "measure"
) -> Alignment:
    """The candidate's content scaled onto the target's content box, on a canvas of the target's size
    filled with the candidate's background (``target_box``: the target's ``content_box`` if known).
    Identical pictures (and pictures of the same size whose
    content boxes agree) are returned unchanged."""
    th, tw = target.shape[:2]
    t_box = content_box(target) if target_box == "measure" else target_box
    c_box = content_box(candidate)
    if t_box is None or c_box is None:
        return Alignment(rgb=_fit(candidate, tw, th))
    if candidate.shape == target.shape and t_box == c_box:
        return Alignment(rgb=candidate)
    tx0, ty0, tx1, ty1 = t_box
    cx0, cy0, cx1, cy1 = c_box
    t_w, t_h = tx1 - tx0, ty1 - ty0
    c_w, c_h = cx1 - cx0, cy1 - cy0
    if min(t_w, t_h, c_w, c_h) < 8:
        return Alignment(rgb=_fit(candidate, tw, th))
    sx, sy = t_w / c_w, t_h / c_h
    # A contiguous copy first: Pillow copies a strided array through ``tobytes``, ten times slower.
    crop = Image.fromarray(np.ascontiguousarray(candidate[cy0:cy1, cx0:cx1]))
    scaled = np.asarray(crop.resize((t_w, t_h), Image.Resampling.LANCZOS), dtype=np.uint8)
    canvas = np.empty((th, tw, 3), dtype=np.uint8)
    canvas[:] = background_color(candidate)
    canvas[ty0:ty1, tx0:tx1] = scaled
    return Alignment(
        rgb=canvas,
        sx=sx,
        sy=sy,
        ox=tx0 - sx * cx0,
        oy=ty0 - sy * cy0,
        aspect=(c_w / c_h) / (t_w / t_h),
    )


def _fit(rgb: RgbArray, width: int, height: int) -> RgbArray:
    """``rgb`` cut or padded (with its background) to ``width`` x ``height``, top-left anchored."""
    h, w = rgb.shape[:2]
    if (w, h) == (width, height):
        return rgb
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = background_color(rgb)
    canvas[: min(h, height), : min(w, width)] = rgb[:height, :width]
    return canvas
