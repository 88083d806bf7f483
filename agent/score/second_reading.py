"""A second reading of a disputed text: OCR both pictures at the same place, the same way.

The target's texts come from OCR and the candidate's from its trace or DOM, so a text OCR made out of a
marker, a hatch or a formula ("oo", "ao?", a mathtext label the trace holds as ``$\\mu = 1.2$``) has
nothing to pair with on the candidate's side, and where the two renders' pixels differ a little (another
rasteriser, markers half a pixel off) the pixel evidence (``evidence.py``) cannot settle it either.
Reading both pictures again at that place, the same way, settles it the way a person would: a text is
missing only if it reads again on its own picture and not on the other.

Only the disputed places are read, all in one tesseract run over a strip of crops (target and candidate
crop of each place stacked): one process when a few places are disputed, none when nothing is or when
so much is that the difference is plainly real.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from .blocks import Box, shifted
from .matching import text_similarity
from .ocr import OcrError, OcrPass, OcrSettings, run_pass
from .raster import RgbArray

MARGIN = 4
"""Pixels of context kept around each place."""
GAP = 14
"""Blank pixels between crops in the strip, so tesseract keeps them on separate lines."""
MAX_PLACES = 8
"""Most places read in one call. With more disputed places than this the findings all stand, unread: a
difference that broad is no misreading of a marker or two (a removed block, a rewritten paragraph), and
reading it would cost a second OCR of much of the picture on every iteration of a wrong answer."""
MAX_SMALL_PLACES = 32
MAX_AREA = 40_000
"""More places than ``MAX_PLACES``, up to ``MAX_SMALL_PLACES``, are read where all of them together
(with their margins) cover no more pixels than this: a chart's markers read as "oo" and "2000" along a
series, or its tick marks as "T", are many places but a small strip to read."""
SAME_READING = 0.7
"""Case-insensitive text similarity at or above which a reading is the disputed text."""
PASS = OcrPass(image="grey", psm=11)
"""Sparse text: the strip's crops are unrelated lines."""
MIN_CONFIDENCE = 30.0
"""Lower than a full reading's: a word read badly on both sides the same way still says they agree."""


_MARKUP = re.compile(r"\\[A-Za-z]+|[${}^_]")


def as_drawn(text: str) -> str:
    """A trace text as it looks drawn: mathtext's markup (``$``, braces, ``^``, ``_``, commands) left out,
    so ``$-19.4^{+0.08}$`` is read against "-19.4+0.08"."""
    return " ".join(_MARKUP.sub(" ", text).split()) if text.count("$") >= 2 else text


def _crop(rgb: RgbArray, box: Box) -> RgbArray:
    h, w = rgb.shape[:2]
    x0, y0 = max(0, math.floor(box[0]) - MARGIN), max(0, math.floor(box[1]) - MARGIN)
    x1, y1 = min(w, math.ceil(box[2]) + MARGIN), min(h, math.ceil(box[3]) + MARGIN)
    return rgb[y0:y1, x0:x1]


def dark_on_light(crop: RgbArray) -> RgbArray:
    """The crop as black ink on a white ground, whatever its colours: grey levels stretched so that its
    ground (the border's median) is white and the level farthest from it black. Tesseract binarises the
    whole strip at once, whose gaps are white: white letters on a dark banner, or dark ones on a blue
    header, came out as one dark patch and did not read again on their own picture, so a title that was
    rewritten went unreported."""
    if not crop.size:
        return crop
    grey = crop.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    ground = float(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))
    ink = float(grey.min()) if ground >= 128 else float(grey.max())
    if abs(ground - ink) < 1.0:
        return crop
    level = np.clip((grey - ink) / (ground - ink) * 255.0, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(level[:, :, None], 3, axis=2))


def _few_enough(places: Sequence[tuple[Box, str, bool]]) -> bool:
    if len(places) <= MAX_PLACES:
        return True
    area = sum((b[2] - b[0] + 2 * MARGIN) * (b[3] - b[1] + 2 * MARGIN) for b, _, _ in places)
    return len(places) <= MAX_SMALL_PLACES and area <= MAX_AREA


def confirmed(
    target: RgbArray,
    candidate: RgbArray,
    places: Sequence[tuple[Box, str, bool]],
    settings: OcrSettings | None = None,
    offsets: Sequence[tuple[float, float]] | None = None,
) -> list[bool]:
    """For each disputed text (its box on its own picture; its text; whether it is the target's), whether
    a second reading confirms the difference: the text reads again on its own picture at that place, and
    does not on the other. A text that does not read again was not a stable reading of anything (OCR's
    "oo" of two markers, a formula's source the trace holds); one that reads on both pictures is on both.
    ``offsets`` (candidate minus target, per place; none: the pictures share a canvas) is where the other
    picture has that place: a page whose lines above it wrapped differently holds the same text lower or
    higher. True (the finding stands) where it cannot tell: OCR unavailable or failing, more places
    than ``_few_enough`` reads, pictures of different sizes without offsets."""
    out = [True] * len(places)
    if not places or not _few_enough(places) or (target.shape != candidate.shape and offsets is None):
        return out
    shifts = list(offsets) if offsets is not None else [(0.0, 0.0)] * len(places)

    def box_on(k: int, side: int) -> Box:
        """Place ``k``'s box on the target (side 0) or the candidate (side 1)."""
        box, _, is_target = places[k]
        own, sign = (0, 1.0) if is_target else (1, -1.0)
        dx, dy = shifts[k]
        return box if side == own else shifted(box, sign * dx, sign * dy)

    chosen = [k for k, (b, _, _) in enumerate(places) if b[2] > b[0] and b[3] > b[1]]
    crops = [
        (k, side, dark_on_light(_crop(rgb, box_on(k, side))))
        for k in chosen
        for side, rgb in ((0, target), (1, candidate))
    ]
    crops = [c for c in crops if c[2].size]
    if not crops:
        return out
    width = max(c[2].shape[1] for c in crops) + 2 * GAP
    height = sum(c[2].shape[0] + GAP for c in crops) + GAP
    strip = np.full((height, width, 3), 255, dtype=np.uint8)
    rows: list[tuple[int, int, int, int]] = []  # (top, bottom, place, side)
    y = GAP
    for k, side, crop in crops:
        strip[y : y + crop.shape[0], GAP : GAP + crop.shape[1]] = crop
        rows.append((y, y + crop.shape[0], k, side))
        y += crop.shape[0] + GAP
    settings = (settings or OcrSettings()).model_copy(update={"min_confidence": MIN_CONFIDENCE})
    try:
        words = run_pass(strip, PASS, settings)
    except OcrError:
        return out
    readings: dict[tuple[int, int], list[tuple[float, str]]] = {}
    for word in words:
        mid = (word.box[1] + word.box[3]) / 2
        for top, bottom, k, side in rows:
            if top <= mid < bottom:
                readings.setdefault((k, side), []).append((word.box[0], word.text))
                break

    def reads(k: int, side: int) -> bool:
        text = " ".join(t for _, t in sorted(readings.get((k, side), [])))
        return bool(text.strip()) and text_similarity(text, as_drawn(places[k][1]), case=False) >= SAME_READING

    for k in chosen:
        own, other = (target, candidate) if places[k][2] else (candidate, target)
        own_side, other_side = (0, 1) if places[k][2] else (1, 0)
        # Something drawn on one picture where the other is blank differs whatever OCR makes of it.
        out[k] = (reads(k, own_side) or blank(other, box_on(k, other_side))) and not reads(k, other_side)
        out[k] = out[k] and not blank(own, places[k][0])
    return out


BLANK_SPREAD = 6.0
"""Standard deviation of grey levels below which a place holds nothing drawn."""


def blank(rgb: RgbArray, box: Box) -> bool:
    """Whether the picture shows nothing at ``box`` (one flat colour): a removed text's place."""
    crop = _crop(rgb, box)
    return not crop.size or float((crop.astype(np.float64) @ np.array([0.299, 0.587, 0.114])).std()) < BLANK_SPREAD
