"""Which colour each series has in the target, read off its legend.

A palette says which colours a chart uses but not which series wears which. A legend does: each label
has its colour swatch (a patch or a line) just left of it. For every series label the candidate's trace
names, the target's OCR text with that label is looked up and the dominant colour of the strip to its
left taken, so the critique can say "Series 'North' is #16a34a, target #2b6cb0".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from .blocks import TextBlock
from .colors import RGB, chroma, delta_e, parse_hex, rgb_tuple
from .matching import text_similarity
from .palette import MIN_CHROMA
from .raster import RgbArray
from .trace import TraceSeries

MIN_LABEL_SIMILARITY = 0.8
SWATCH_WIDTH = 4.0
"""How far left of the label (in label heights) the swatch is looked for."""
CORE_CHROMA = 0.6
"""Swatch pixels at least this share of the strip's strongest chroma are its colour; the rest are blends
with the background at a thin line's edges, which can outnumber its core (a dashed line with an x marker
read as #f0bcbc where it is drawn #d62728)."""


class SeriesColor(BaseModel):
    """A series of the candidate, its colour, and the colour the target's legend gives that label."""

    model_config = ConfigDict(frozen=True)

    label: str
    candidate: RGB | None
    target: RGB | None
    delta_e: float | None


def swatch_color(rgb: RgbArray, label: TextBlock) -> RGB | None:
    """The dominant colour of the strongest-coloured pixels just left of a legend label, or None if there is
    no colour there."""
    x0, y0, _, y1 = (round(v) for v in label.box)
    height = max(1, y1 - y0)
    left = max(0, round(x0 - SWATCH_WIDTH * height))
    strip = rgb[max(0, y0) : max(0, y1), left : max(left, x0 - 1)].reshape(-1, 3)
    if strip.size == 0:
        return None
    strength = chroma(strip)
    if int((strength >= MIN_CHROMA).sum()) < 3:
        return None
    coloured = strip[strength >= max(MIN_CHROMA, CORE_CHROMA * float(strength.max()))]
    q = (coloured // 8).astype(np.int64)
    keys = (q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]
    values, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    top = int(np.argmax(counts))
    return rgb_tuple(coloured[inverse == top].mean(axis=0)) if len(values) else None


def legend_colors(
    rgb: RgbArray,
    blocks: Sequence[TextBlock],
    series: Sequence[TraceSeries],
    candidate_rgb: RgbArray | None = None,
    candidate_blocks: Sequence[TextBlock] = (),
) -> tuple[SeriesColor, ...]:
    """For each labelled candidate series: its colour and the target legend's colour for that label.

    With ``candidate_rgb`` (the candidate on the target's canvas, ``align.py``) and its text blocks, the
    candidate's colour is read the same way next to its own label, so both sides are measured by one
    instrument: a swatch drawn with transparency, or a line swatch with markers, reads the same on both
    and is no difference.
    """
    out: list[SeriesColor] = []
    for s in series:
        label = s.shown_label
        if not label:
            continue
        best = max(blocks, key=lambda b: text_similarity(b.text, label, case=False), default=None)
        target: RGB | None = None
        if best is not None and text_similarity(best.text, label, case=False) >= MIN_LABEL_SIMILARITY:
            target = swatch_color(rgb, best)
        candidate: RGB | None = None
        own = max(candidate_blocks, key=lambda b: text_similarity(b.text, label, case=False), default=None)
        if own is not None and text_similarity(own.text, label, case=False) < MIN_LABEL_SIMILARITY:
            own = None
        if candidate_rgb is not None and candidate_rgb.shape == rgb.shape and own is not None:
            # Read at the candidate's own label, by the same instrument as the target's.
            candidate = swatch_color(candidate_rgb, own) if target is not None else None
        elif s.colors:
            candidate = parse_hex(s.colors[0])
        de = delta_e(candidate, target) if candidate is not None and target is not None else None
        out.append(SeriesColor(label=label, candidate=candidate, target=target, delta_e=de))
    return tuple(out)
