"""From raw words of any source to comparable text blocks: measure on pixels, drop noise, group lines.

This is the one pipeline OCR words, DOM words and chart-trace texts all go through (the "same
instrument" for both sides of a comparison). Noise dropped on every source alike: words with no visible
ink, lone symbols (bullets, separators; OCR reads a bullet as "e" or "+", so solid dot-shaped single
characters go too), rotated text (taller than wide: OCR reads it unreliably), specks far smaller
than the picture's typical text and giants far taller (a shape read as a letter).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from .blocks import TextBlock
from .ink import measure_block
from .lines import group_lines
from .raster import RgbArray

BLOB_FILL = 0.65
"""A single character whose ink fills this much of its roughly square box is a dot, not a letter."""
SPECK_FACTOR = 0.3
"""Words whose ink is less tall than this share of the median word height are specks (tick marks...)."""
GIANT_FACTOR = 8.0
"""Words whose ink is taller than this many median word heights are shapes OCR read as letters (a chart's
curves as one 318 px "a"), not text: no chart or page sets a word that much above its typical size, and
one such word joins every line it spans into one."""


def measure_words(words: Sequence[TextBlock], rgb: RgbArray) -> list[TextBlock]:
    """Words measured on ``rgb`` (tight ink box, drawn colour), without invisible words and noise."""
    kept: list[TextBlock] = []
    for word in words:
        text = " ".join(word.text.split())
        if not text:
            continue
        measured, ink = measure_block(word.model_copy(update={"text": text}), rgb)
        if ink is None:
            continue
        if len(text) >= 2 and measured.height > 1.5 * measured.width:
            continue  # rotated text (a y-axis label): OCR reads it unreliably, so no source counts it
        if len(text) == 1:
            if not text.isalnum():
                continue
            aspect = measured.width / max(measured.height, 1.0)
            if ink.fill >= BLOB_FILL and 0.6 <= aspect <= 1.6:
                continue
        kept.append(measured)
    if len(kept) >= 3:
        typical = statistics.median(w.height for w in kept)
        kept = [w for w in kept if SPECK_FACTOR * typical <= w.height <= GIANT_FACTOR * typical]
    return kept


def blocks_from_words(words: Sequence[TextBlock], rgb: RgbArray) -> list[TextBlock]:
    """Text lines of ``words`` as they appear on ``rgb``: measured, cleaned and grouped."""
    return group_lines(measure_words(words, rgb))
