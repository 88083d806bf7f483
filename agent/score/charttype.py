"""Chart-type agreement between a candidate (from its trace) and what the target is believed to be.

A picture alone does not say reliably whether it shows bars or a histogram, so the target's type comes
from a hint: the type the model said it drew, a previous candidate's trace, or the user. Without a hint
the component is not scored (``None``) rather than guessed.

The picture does say how each series is drawn, though: in the series' colour, a bar or an area is a
filled shape and a line is a thin stroke. ``type_evidence`` compares that, per candidate series, on the
target and on the candidate (on the target's canvas); where it can be measured it decides the
component, and the hint is not needed (a model that names the type wrongly no longer costs a right
script its chart-type score). Where the candidate drew its one series in a colour the target lacks,
nothing can be compared that way; then the shape of its marks on its own render against the shape of the
target's main colour's (``mark_shape``: dots or a line) can still clear a hint that says otherwise (a small
model reads big scatter dots as a line, and the loop must not be told to draw one). Types are compared
exactly and by family (a histogram is closer to bars than to lines): the score is the mean of the two
Jaccard indices.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .evidence import colour_mask

KINDS = ("bar", "barh", "hist", "line", "area", "scatter", "pie", "heatmap")
FAMILY = {
    "bar": "bars",
    "barh": "bars",
    "hist": "bars",
    "line": "lines",
    "area": "lines",
    "scatter": "points",
    "pie": "pie",
    "heatmap": "grid",
}
_SYNONYMS = (
    (r"horizontal bars?|barh|hbar", "barh"),
    (r"histograms?|hist", "hist"),
    (r"bars?|columns?|grouped bars?|stacked bars?", "bar"),
    (r"stacked areas?|areas?|stackplot|fill_between", "area"),
    (r"lines?|time series|plot", "line"),
    (r"scatter|points?|bubbles?|markers?", "scatter"),
    (r"pie|donut|doughnut|wedges?", "pie"),
    (r"heat ?maps?|imshow|pcolormesh|matrix|image", "heatmap"),
)


def normalize_types(hint: str | Iterable[str] | None) -> tuple[str, ...]:
    """Chart kinds (``KINDS``) named by ``hint``: "bar chart", ["line", "scatter"], "bar + line"..."""
    if hint is None:
        return ()
    parts = re.split(r"\s*(?:,|\+|/|;|&|\band\b|\bwith\b)\s*", hint) if isinstance(hint, str) else list(hint)
    out: list[str] = []
    for part in parts:
        text = re.sub(r"\b(charts?|plots?|graphs?|diagrams?)\b", " ", part.lower().replace("-", " "))
        text = " ".join(text.split()) or part.lower().strip()
        for pattern, kind in _SYNONYMS:
            if re.fullmatch(pattern, text) or re.search(rf"\b(?:{pattern})\b", text):
                if kind not in out:
                    out.append(kind)
                break
    return tuple(out)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def type_agreement(candidate: Sequence[str], target: Sequence[str]) -> float | None:
    """In [0, 1]; None when the target's type is unknown. 1.0 for equal sets, 0.5 for bars vs hist."""
    want = set(target)
    if not want:
        return None
    have = set(candidate)
    if not have:
        return 0.0
    exact = _jaccard(have, want)
    family = _jaccard({FAMILY.get(t, t) for t in have}, {FAMILY.get(t, t) for t in want})
    return (exact + family) / 2


# --- what the picture says -------------------------------------------------------------------------

MARK_COLOR_DISTANCE = 30
"""Largest per-channel difference from a series colour for a pixel to be one of its marks."""
MIN_MARK_PIXELS = 80
SOLIDITY_GAP = 0.3
"""Filled marks (bars, areas, wedges) keep most of their pixels through a 3x3 erosion, strokes (lines)
keep almost none, markers about half: a series whose marks differ by this much is drawn another way."""
FILLED = ("bar", "barh", "hist", "area", "pie")


def mark_solidity(rgb: npt.NDArray[np.uint8], color: tuple[int, int, int]) -> tuple[int, float]:
    """(pixel count, share of them surviving a 3x3 erosion) of the pixels drawn in ``color``."""
    mask = colour_mask(rgb, color, MARK_COLOR_DISTANCE)
    count = int(mask.sum())
    if count == 0:
        return 0, 0.0
    core = mask.copy()
    core[1:, :] &= mask[:-1, :]
    core[:-1, :] &= mask[1:, :]
    core[:, 1:] &= mask[:, :-1]
    core[:, :-1] &= mask[:, 1:]
    core[1:, 1:] &= mask[:-1, :-1]
    core[:-1, :-1] &= mask[1:, 1:]
    core[1:, :-1] &= mask[:-1, 1:]
    core[:-1, 1:] &= mask[1:, :-1]
    core[0, :] = core[-1, :] = False
    core[:, 0] = core[:, -1] = False
    return count, float(core.sum()) / count


@dataclass(frozen=True)
class TypeEvidence:
    """One candidate series checked against the target's marks of the same colour."""

    type: str
    color: tuple[int, int, int]
    candidate_solidity: float
    target_solidity: float
    pixels: int
    same_shape: bool = False
    """Both pictures' marks in this colour have one ``mark_shape`` (a line and a line): then a solidity gap
    is the stroke's width, which a PDF rasterizer draws a pixel wider than Agg (ChartMimic line_29: a
    1.5 pt line keeps 31% of its pixels through the erosion on the benchmark's picture, none on a render)."""

    @property
    def differs(self) -> bool:
        return abs(self.candidate_solidity - self.target_solidity) >= SOLIDITY_GAP and not self.same_shape

    @property
    def target_looks(self) -> str:
        s = self.target_solidity
        return "filled shapes (bars, areas or wedges)" if s >= 0.6 else "thin lines" if s < 0.2 else "markers"


def type_evidence(
    target: npt.NDArray[np.uint8],
    candidate: npt.NDArray[np.uint8],
    series: Sequence[tuple[str, tuple[int, int, int]]],
    max_series: int = 8,
) -> list[TypeEvidence]:
    """For each (type, colour) series of the candidate (at most ``max_series`` distinct colours), how
    filled its marks are on the candidate (on the target's canvas) and on the target in that colour, and,
    where that differs, whether they are shaped alike. Series too small to measure on either picture are
    left out."""
    out: list[TypeEvidence] = []
    seen: set[tuple[int, int, int]] = set()
    for kind, color in series:
        if color in seen or len(seen) >= max_series:
            continue
        seen.add(color)
        n_c, s_c = mark_solidity(candidate, color)
        n_t, s_t = mark_solidity(target, color)
        if min(n_c, n_t) < MIN_MARK_PIXELS:
            continue
        same = False
        if abs(s_c - s_t) >= SOLIDITY_GAP:  # only then is the shape worth its labelling pass
            shape = mark_shape(candidate, color)
            same = shape is not None and shape == mark_shape(target, color)
        out.append(TypeEvidence(kind, color, s_c, s_t, n_t, same))
    return out


MIN_BLOB_PIXELS = 12
"""Smaller pieces of a colour (antialiasing, a legend swatch's edge) are left out of ``mark_shape``."""
COMPACT_SHARE = 0.6
"""Share of a colour's pixels in compact blobs above which its marks are markers (a few dots overlap)."""
STROKE_SHARE = 0.6
"""Share of a colour's pixels the largest piece must hold for its marks to be one line."""
STROKE_RATIO = 8.0
"""A piece is a stroke when its bounding box's diagonal, squared, exceeds this many times its pixels:
a line much longer than it is thick (a dot of any size has about 2.5, a bar rarely over 4)."""


def mark_shape(rgb: npt.NDArray[np.uint8], color: tuple[int, int, int]) -> str | None:
    """How the marks drawn in ``color`` are shaped: "markers" (three or more separate, compact blobs: a
    scatter plot's dots), "line" (most of the pixels in one stroke far longer than it is thick), or None
    (anything else: bars, areas, wedges, too few pixels). ``mark_solidity`` cannot tell big dots from a
    thick line (both keep most of their pixels through an erosion); how the pixels hang together can."""
    from scipy import ndimage  # type: ignore[import-untyped]

    mask = colour_mask(rgb, color, MARK_COLOR_DISTANCE)
    if int(mask.sum()) < MIN_MARK_PIXELS:
        return None
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    pieces = []
    for index, where in enumerate(ndimage.find_objects(labels)):
        if where is None or sizes[index] < MIN_BLOB_PIXELS:
            continue
        height, width = where[0].stop - where[0].start, where[1].stop - where[1].start
        pieces.append((int(sizes[index]), height, width))
    total = sum(size for size, _, _ in pieces)
    if not total:
        return None
    compact = sum(size for size, h, w in pieces if 0.5 <= w / h <= 2.0 and size >= 0.5 * h * w)
    if len(pieces) >= 3 and compact >= COMPACT_SHARE * total:
        return "markers"
    size, height, width = max(pieces)
    if size >= STROKE_SHARE * total and height * height + width * width >= STROKE_RATIO * size:
        return "line"
    return None


SHAPE_TYPES = {"markers": ("scatter",), "line": ("line",)}
"""The chart types whose marks take each ``mark_shape``."""


def shapes_agree(candidate_type: str, candidate_shape: str | None, target_shape: str | None) -> bool:
    """Whether a candidate series of ``candidate_type`` drawn as ``candidate_shape`` is drawn the way the
    target's marks are: both shapes measured, equal, and the shape one the type draws."""
    return (
        candidate_shape is not None
        and candidate_shape == target_shape
        and candidate_type in SHAPE_TYPES.get(candidate_shape, ())
    )


def evidence_agreement(evidence: Sequence[TypeEvidence]) -> float | None:
    """Share of the measured series' pixels whose marks agree in kind; None if none was measured."""
    total = sum(e.pixels for e in evidence)
    if not total:
        return None
    return sum(e.pixels for e in evidence if not e.differs) / total
