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
target's main colour's (``mark_shape``: dots, a line, separate bars, a histogram's touching ones) decides
where both are known, over the hint (a small model reads big scatter dots as a line and separate bars as
a histogram, and names its own answer by the same misreading, so the hint agrees with a wrong answer).
Shape also tells apart what solidity cannot (bars from a histogram's bars, in one colour). Types are
compared exactly and by family (a histogram is closer to bars than to lines): the score is the mean of
the two Jaccard indices.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .colors import chroma
from .evidence import colour_mask
from .palette import MIN_CHROMA

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
    return _solidity(colour_mask(rgb, color, MARK_COLOR_DISTANCE))


def _solidity(mask: npt.NDArray[np.bool_]) -> tuple[int, float]:
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


def _kin(shape: str | None) -> str | None:
    """Shapes of one kind of mark: a line whole or in pieces (a solid line against a dashed one, one
    render's unbroken stroke against another's broken by a grid drawn over it) is no chart type apart."""
    return "line" if shape == "segments" else shape


@dataclass(frozen=True)
class TypeEvidence:
    """One candidate series checked against the target's marks of the same colour."""

    type: str
    color: tuple[int, int, int]
    candidate_solidity: float
    target_solidity: float
    pixels: int
    candidate_shape: str | None = None
    target_shape: str | None = None
    """``mark_shape`` of this colour's marks on each picture (None: not one of the shapes it knows)."""

    @property
    def same_shape(self) -> bool:
        """Both pictures' marks in this colour have one shape (a line and a line): then a solidity gap is
        the stroke's width, which a PDF rasterizer draws a pixel wider than Agg (ChartMimic line_29: a
        1.5 pt line keeps 31% of its pixels through the erosion on the benchmark's picture, none on a
        render)."""
        if self.candidate_shape is None or _kin(self.candidate_shape) != _kin(self.target_shape):
            return False
        # A line in pieces excuses the gap only for a series drawn as a line: thin bars (a box plot's
        # whiskers redrawn as bars) read as strokes too.
        return "segments" not in (self.candidate_shape, self.target_shape) or self.type in SHAPE_TYPES["segments"]

    @property
    def shapes_differ(self) -> bool:
        """Both shapes measured and different, the candidate's being one its type draws (so that the
        reading of its own marks is checked against what it is known to have drawn): separate bars
        against a histogram's touching ones, a line against dots, whatever their solidity."""
        return (
            self.target_shape is not None
            and self.candidate_shape is not None
            and _kin(self.candidate_shape) != _kin(self.target_shape)
            and self.type in SHAPE_TYPES[self.candidate_shape]
        )

    @property
    def differs(self) -> bool:
        gap = abs(self.candidate_solidity - self.target_solidity) >= SOLIDITY_GAP
        return (gap and not self.same_shape) or self.shapes_differ

    @property
    def target_looks(self) -> str:
        if self.shapes_differ and self.target_shape is not None:
            return SHAPE_WORDS[self.target_shape]
        s = self.target_solidity
        return "filled shapes (bars, areas or wedges)" if s >= 0.6 else "thin lines" if s < 0.2 else "markers"


class TargetMarks:
    """A target picture's marks, measured once per colour: every candidate of a run is scored against the
    same picture, and its shapes and solidities are most of what type evidence costs."""

    def __init__(self, rgb: npt.NDArray[np.uint8]) -> None:
        self.rgb = rgb
        self._solidity: dict[tuple[int, int, int], tuple[int, float]] = {}
        self._shape: dict[tuple[int, int, int], str | None] = {}

    def solidity(self, color: tuple[int, int, int]) -> tuple[int, float]:
        if color not in self._solidity:
            self._solidity[color] = mark_solidity(self.rgb, color)
        return self._solidity[color]

    def shape(self, color: tuple[int, int, int]) -> str | None:
        if color not in self._shape:
            self._shape[color] = mark_shape(self.rgb, color)
        return self._shape[color]


def type_evidence(
    target: npt.NDArray[np.uint8] | TargetMarks,
    candidate: npt.NDArray[np.uint8],
    series: Sequence[tuple[str, tuple[int, int, int]]],
    max_series: int = 8,
) -> list[TypeEvidence]:
    """For each (type, colour) series of the candidate (at most ``max_series`` distinct colours), how
    filled its marks are on the candidate (on the target's canvas) and on the target in that colour, and
    how they are shaped on each. Series too small to measure on either picture are left out, and so are
    grey ones the target draws far less of than the candidate: there the target's pixels in that colour
    are its text, ticks and grid, not a series."""
    marks = target if isinstance(target, TargetMarks) else TargetMarks(target)
    out: list[TypeEvidence] = []
    seen: set[tuple[int, int, int]] = set()
    for kind, color in series:
        if color in seen or len(seen) >= max_series:
            continue
        seen.add(color)
        mask = colour_mask(candidate, color, MARK_COLOR_DISTANCE)  # one mask for both readings
        n_c, s_c = _solidity(mask)
        n_t, s_t = marks.solidity(color)
        if min(n_c, n_t) < MIN_MARK_PIXELS:
            continue
        if _is_grey(color) and n_t < GREY_SHARE * n_c:
            continue
        shape = _shape(mask)  # the target's is only worth its pass if there is one to compare
        out.append(TypeEvidence(kind, color, s_c, s_t, n_t, shape, shape and marks.shape(color)))
    return out


GREY_SHARE = 0.05
"""A grey series is measured on the target only where the target draws at least this share of the
candidate's pixels in it. Black text's anti-aliased edges are grey, so a picture with no grey series
still has a few hundred grey pixels (under 1% of a grey histogram's on the demo's held-out item 5); a
black or grey series it does draw has far more (ChartMimic box_12's black lines: 17% of the black bars
that replace them in its chart-type perturbation)."""


def _is_grey(color: tuple[int, int, int]) -> bool:
    """Grey as the palette counts it: the colour of a chart's text and axes too."""
    return float(chroma(color)) < MIN_CHROMA


MIN_BLOB_PIXELS = 12
"""Smaller pieces of a colour (antialiasing, a legend swatch's edge) are left out of ``mark_shape``."""
COMPACT_SHARE = 0.6
"""Share of a colour's pixels in compact blobs above which its marks are markers (a few dots overlap)."""
STROKE_SHARE = 0.6
"""Share of a colour's pixels the largest piece must hold for its marks to be one line."""
STROKE_RATIO = 8.0
"""A piece is a stroke when its bounding box's diagonal, squared, exceeds this many times its pixels:
a line much longer than it is thick (a dot of any size has about 2.5, a bar rarely over 4)."""
MAX_STROKE = 0.025
"""Thickest a line's stroke is (its pixels over its length), as a share of the picture's diagonal: a
donut's wedge is as long for its pixels as a line, but several times thicker (ChartMimic pie_11)."""


def mark_shape(rgb: npt.NDArray[np.uint8], color: tuple[int, int, int]) -> str | None:
    """How the marks drawn in ``color`` are shaped: "markers" (three or more separate, compact blobs: a
    scatter plot's dots), "line" (most of the pixels in one stroke far longer than it is thick), "bars"
    or "hbars" (upright or sideways rectangles on one baseline with gaps between them: a bar chart),
    "steps" or "hsteps" (such columns touching: a histogram), or None (anything else: areas, wedges,
    too few pixels). ``mark_solidity`` cannot tell big dots from a thick line, nor bars from a
    histogram (all keep most of their pixels through an erosion); how the pixels hang together can."""
    return _shape(colour_mask(rgb, color, MARK_COLOR_DISTANCE))


def _shape(full: npt.NDArray[np.bool_]) -> str | None:
    from scipy import ndimage  # type: ignore[import-untyped]

    if int(full.sum()) < MIN_MARK_PIXELS:
        return None
    rows, cols = np.flatnonzero(full.any(axis=1)), np.flatnonzero(full.any(axis=0))
    mask = np.pad(full[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], 2)  # only where the colour is
    # Thin lines of other colours drawn over the marks (a grid, a histogram's bar edges) cut them into
    # pieces: a closing bridges gaps of up to two pixels, narrower than a bar chart's gaps.
    mask |= _close(mask)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    boxes = [
        (index, where)
        for index, where in enumerate(ndimage.find_objects(labels), 1)
        if where is not None and sizes[index] >= MIN_BLOB_PIXELS
    ]
    if not boxes:
        return None
    total = sum(int(sizes[index]) for index, _ in boxes)
    if len(boxes) <= MAX_COLUMNS:
        # Columns first: square bars are as compact as dots, but dots do not stand on one baseline.
        pieces = [_Piece(labels[w] == i, w[0].start, w[1].start, int(sizes[i])) for i, w in boxes]
        upright = _columns(pieces, total)
        if upright is not None:
            return {"separate": "bars", "touching": "steps"}[upright]
        sideways = _columns([p.sideways(mask.shape[1]) for p in pieces], total)
        if sideways is not None:
            return {"separate": "hbars", "touching": "hsteps"}[sideways]
    shapes = [(int(sizes[i]), w[0].stop - w[0].start, w[1].stop - w[1].start) for i, w in boxes]
    compact = sum(size for size, h, w in shapes if 0.5 <= w / h <= 2.0 and size >= 0.5 * h * w)
    if len(shapes) >= 3 and compact >= COMPACT_SHARE * total:
        return "markers"
    size, height, width = max(shapes)
    diagonal = float(np.hypot(height, width))
    thin = size / diagonal <= MAX_STROKE * float(np.hypot(*full.shape))  # a ring's band is long too
    if size >= STROKE_SHARE * total and diagonal * diagonal >= STROKE_RATIO * size and thin:
        return "line"
    # Several short strokes (a box plot's medians, a dashed or broken line): a line's pieces, which a
    # PDF rasteriser draws a pixel thicker than Agg, so that only their shape says what they are.
    limit = MAX_STROKE * float(np.hypot(*full.shape))
    strokes = sum(
        size
        for size, height, width in shapes
        if height * height + width * width >= STROKE_RATIO * size and size / float(np.hypot(height, width)) <= limit
    )
    if len(shapes) >= 2 and strokes >= STROKE_SHARE * total:
        return "segments"
    return None


def _close(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """A 3x3 closing (a dilation, then an erosion), by shifted copies: the square is separable, and
    this is several times faster than ``scipy.ndimage.binary_closing`` on a chart's mask. ``mask`` has
    a blank border of two pixels, so nothing wraps."""

    def spread(m: npt.NDArray[np.bool_], op: np.ufunc) -> npt.NDArray[np.bool_]:
        out = m.copy()
        op(out[1:], m[:-1], out=out[1:])
        op(out[:-1], m[1:], out=out[:-1])
        rows = out.copy()
        op(out[:, 1:], rows[:, :-1], out=out[:, 1:])
        op(out[:, :-1], rows[:, 1:], out=out[:, :-1])
        return out

    return spread(spread(mask, np.logical_or), np.logical_and)


@dataclass(frozen=True)
class _Piece:
    """One connected piece of a colour's marks: its mask within its bounding box, where that box is."""

    mask: npt.NDArray[np.bool_]
    top: int
    left: int
    size: int

    @property
    def height(self) -> int:
        return int(self.mask.shape[0])

    @property
    def width(self) -> int:
        return int(self.mask.shape[1])

    def sideways(self, picture_width: int) -> _Piece:
        """The piece in the picture turned so that its rows are columns and its left edge its bottom."""
        return _Piece(self.mask.T[::-1, :], picture_width - (self.left + self.width), self.top, self.size)


MAX_COLUMNS = 200
"""More pieces than this are not a bar chart's or a histogram's columns (dots, cells, hatching)."""
COLUMN_SHARE = 0.85
"""Share of a colour's pixels that its columns on one baseline must hold for ``mark_shape`` to read
bars or a histogram (the rest: a legend swatch, a title in that colour)."""
MIN_COLUMN_WIDTH = 3
"""Narrower runs of equal height are an area's slope or a line's edge, not a bar."""
MIN_STEP = 3
"""Smallest height difference, in pixels, between a histogram's neighbouring bars (a smaller one is an
area's slope)."""
MIN_BAR_GAP = 0.15
"""Gap between two bars, as a share of the median bar's width, above which they are separate."""
TOUCHING_GAP = 3
"""Columns this many pixels apart or fewer touch: what is between them is a bar's edge line."""
EMPTY_BIN = 0.8
"""In a histogram a gap is an empty bin: at least about as wide as its narrowest bar."""


NOTCH_WIDTH = 6
"""A run of columns this narrow between two of one height is something drawn over a bar (an error
bar's line, wider on a PDF rasterizer's picture than the closing bridges: ChartMimic errorbar_15)."""


def _without_notches(runs: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Runs of equal column ends, with each narrow one between two of the same end joined to them."""
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(runs):
        first, stop, end = runs[i]
        while i + 2 < len(runs) and runs[i + 1][1] - runs[i + 1][0] < NOTCH_WIDTH and abs(runs[i + 2][2] - end) <= 1:
            stop = runs[i + 2][1]
            i += 2
        out.append((first, stop, end))
        i += 1
    return out


def _columns(pieces: Sequence[_Piece], total: int) -> str | None:
    """ "separate" when the pieces are two or more filled rectangles on one baseline (upward from it or,
    for negative values, downward) with gaps between them, "touching" when such flat-ended columns
    stand side by side (a histogram's bars), else None."""
    # Per piece: its columns' top and bottom rows, and the row of each of those edges that is flat.
    edges = []
    for p in pieces:
        tops = p.top + p.mask.argmax(axis=0)
        bottoms = p.top + p.height - 1 - p.mask[::-1].argmax(axis=0)
        flat_top, flat_bottom = (int(np.median(e)) if np.ptp(e) <= 2 else None for e in (tops, bottoms))
        edges.append((p, tops, bottoms, flat_top, flat_bottom))
    # The baseline: the flat edge (a bar's bottom, or a negative bar's top) that the most pixels share.
    flat = [(row, p.size) for p, _, _, *rows in edges for row in rows if row is not None]
    if not flat:
        return None
    base = max({row for row, _ in flat}, key=lambda r: sum(n for row, n in flat if abs(row - r) <= 2))
    blocks: list[tuple[int, int]] = []  # (left, right) of each flat-ended run of columns
    held = 0
    for p, tops, bottoms, flat_top, flat_bottom in edges:
        if flat_bottom is not None and abs(flat_bottom - base) <= 2:
            ends = tops  # upward from the baseline
        elif flat_top is not None and abs(flat_top - base) <= 2:
            ends = bottoms  # downward from it
        else:
            continue
        runs: list[tuple[int, int, int]] = []  # (first column, past the last, end row) of equal ends
        start = 0
        for x in range(1, len(ends) + 1):
            if x == len(ends) or abs(int(ends[x]) - int(ends[start])) > 1:
                runs.append((start, x, int(ends[start])))
                start = x
        runs = _without_notches(runs)
        for i, (first, stop, end) in enumerate(runs):
            run_area = int((np.abs(ends[first:stop] - base) + 1).sum())
            if stop - first < MIN_COLUMN_WIDTH or p.mask[:, first:stop].sum() < COLUMN_SHARE * run_area:
                return None  # a slope (an area) or a hollow: not flat-ended columns
            if i + 1 < len(runs) and abs(runs[i + 1][2] - end) < MIN_STEP:
                return None  # a gentle slope cut into runs of equal height
            blocks.append((p.left + first, p.left + stop))
        held += p.size
    if len(blocks) < 2 or held < COLUMN_SHARE * total:
        return None
    blocks.sort()
    widths = sorted(right - left for left, right in blocks)
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(blocks)]
    if min(gaps) < 0:
        return None  # side by side is not one row of columns
    if min(gaps) <= TOUCHING_GAP and all(g <= TOUCHING_GAP or g >= EMPTY_BIN * widths[0] for g in gaps):
        return "touching"  # neighbours touch; any wider gap is a histogram's empty bins
    if min(gaps) >= max(TOUCHING_GAP + 1, MIN_BAR_GAP * widths[len(widths) // 2]):
        return "separate"
    return None


SHAPE_TYPES = {
    "markers": ("scatter",),
    "line": ("line",),
    "segments": ("line",),
    "bars": ("bar",),
    "hbars": ("barh",),
    "steps": ("hist",),
    "hsteps": ("hist",),
    "wedges": ("pie",),
}
"""The chart types whose marks take each ``mark_shape`` ("wedges" is known from a trace, not read)."""

SHAPE_WORDS = {
    "markers": "separate dots",
    "line": "one line",
    "segments": "separate line segments",
    "bars": "separate bars",
    "hbars": "separate horizontal bars",
    "steps": "touching bars (a histogram)",
    "hsteps": "touching horizontal bars (a histogram)",
    "wedges": "wedges",
}


def shape_verdict(
    candidate_type: str, candidate_shape: str | None, target_shape: str | None
) -> tuple[float, tuple[str, ...]] | None:
    """What the shapes of one candidate series' marks and of the target's main colour's say of the chart
    type, where the candidate's colour is not the target's (so ``type_evidence`` measured nothing): the
    agreement and the target's types by its marks. None where they say nothing: a shape not measured,
    or the candidate's not one its type draws."""
    if candidate_shape is None or target_shape is None or candidate_type not in SHAPE_TYPES[candidate_shape]:
        return None
    types = SHAPE_TYPES[target_shape]
    return (1.0 if candidate_shape == target_shape else type_agreement((candidate_type,), types) or 0.0), types


def evidence_agreement(evidence: Sequence[TypeEvidence]) -> float | None:
    """Share of the measured series' pixels whose marks agree in kind; None if none was measured."""
    total = sum(e.pixels for e in evidence)
    if not total:
        return None
    return sum(e.pixels for e in evidence if not e.differs) / total
