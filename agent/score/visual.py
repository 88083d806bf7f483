"""How much a rendered candidate looks like the target picture: a score made of named components,
cheap enough (tens of milliseconds once the target's OCR is cached) to run on every iteration.

UIs (``score_ui``), after Design2Code (Si et al. 2024), whose five measures are kept and averaged:

- ``block``: how much text area is matched: (area of matched target and candidate blocks) / (area of
  all blocks on both sides), so missing and extra text both cost;
- ``text``: text similarity (difflib ratio) of matched blocks, weighted by target block area;
- ``position``: 1 - centre distance / (``ScoreScales.position`` x target diagonal), per matched block;
- ``color``: 1 - CIEDE2000 / ``ScoreScales.color`` between the drawn text colours of matched blocks;
- ``perceptual``: mean of SSIM and colour-histogram similarity of the whole pictures (Design2Code uses
  CLIP here; these need no model and catch layout, backgrounds and images the text blocks miss).

Charts (``score_chart``), after ChartMimic's low-level measures (text, layout, type, colour) plus the
same perceptual term. The target is only a picture, so its texts come from OCR and its colours from its
pixels; the candidate's texts come from the trace of its matplotlib artists, measured on its own PNG:

- ``text``: character-weighted similarity of matched texts over all texts of both sides (a missing
  title and an extra label both cost);
- ``position``: as for UIs, over matched texts (the layout of titles, ticks and legends);
- ``color``: similarity of the chromatic palettes of the two pictures (series colours);
- ``series``: 1 - |difference| / max of the number of series colours in each picture;
- ``chart_type``: agreement of the trace's chart types with ``target_hint`` (None without a hint, and
  then left out of the overall score rather than guessed);
- ``perceptual``: as for UIs.

Identical inputs score exactly 1.0 on every component (sums are taken with ``math.fsum``, so the same
numbers in another order give the same total). Blocks of both sides must come from the same pipeline
(``words.py``): OCR blocks for the target, DOM or trace blocks for the candidate, each measured on its
own picture. Optionally pass the candidate's own OCR (``candidate_ocr``): candidate texts that OCR cannot
see on the candidate either (tiny, faint, overlapping marks) are then not held against it.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from .align import align, content_box
from .blends import drawn_as, greys, reconcile_blends
from .blocks import RGB, Box, TextBlock, intersection_area, shifted, union_box
from .charttype import (
    TargetMarks,
    TypeEvidence,
    evidence_agreement,
    mark_shape,
    normalize_types,
    shape_verdict,
    type_agreement,
    type_evidence,
)
from .colors import FloatArray, delta_e, parse_hex, similarity_from_delta_e
from .content import content_diff
from .evidence import SAME, best_match, colour_covered, colour_present, same_drawing
from .ink import measure_ink
from .legend import SeriesColor, legend_colors
from .matching import MIN_SIMILARITY, Matching, match_blocks, normalize_text, text_similarity
from .palette import LARGE_AREA, LARGE_AREA_DELTA_E, PaletteColor, dominant_colors, palette_similarity, tint_of
from .perceptual import Perceptual, perceptual_similarity
from .raster import RgbArray, image_key, load_rgb
from .second_reading import confirmed
from .trace import ChartTrace, TraceSeries, trace_words
from .words import blocks_from_words

T = TypeVar("T")

PALETTE_DELTA_E = 8.0
"""ΔE00 from which the critique names a colour difference (``critique.PALETTE_TOLERANCE``)."""
CONFIRM_PX = 3.0
"""Pairs that read the same and sit closer than this are not checked on the pixels (nothing to say)."""
UI_MERGE_DELTA_E = 2.5
"""UI palettes keep near-white backgrounds apart (a white card on a light-grey page matters)."""
PAGE_COLOUR_DISTANCE = 4
"""Per-channel distance (to ``evidence.colour_mask``'s 8-level bins, so about 8 levels) within which a
page's pixel is drawn in one of its large colours: finer than a chart's, as a white card on a #f1f5f9
page is a difference."""
SIZE_RECHECK = 0.2
"""A page pair whose box heights differ by this share or more is checked on the pixels (``confirm_size``;
the critique names sizes from ``critique.PAGE_SIZE_TOLERANCE``, which is larger)."""
INK_TOLERANCE = 0.1
"""Relative difference of two places' ink (``same_ink``) under which they are drawn in the same colour: a
thin stroke's ink is the same to a few percent wherever it falls; a text recoloured from #575552 to
#858381 takes about 27% less from a white background."""
MARGIN_INK = 1
"""Pixels added around a box whose ink is summed (the blended edge of a stroke on its border)."""
SAME_SIZE = 0.9
"""Agreement from which a pair's pixels show the same size: stricter than ``evidence.SAME``, since a box
also holds what the text sits on (a button's edges), which agrees whatever size its label is."""
RECHECK_DELTA_E = 5.0
"""A page pair whose text colours differ by this ΔE00 or more is measured again at one place on both
pictures (``same_place_colour``)."""


class ScoreWeights(BaseModel):
    """Weights of a UI's components in its overall score (normalised by their sum).

    Equal by default, as Design2Code averages its five measures: each catches a different failure
    (lost text, wrong words, wrong place, wrong colour, wrong overall look), none subsumes another,
    and we have no preference data yet that would justify favouring one. A caller that cares more
    about, say, layout raises ``position``; a weight of 0 turns a component off.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    block: float = Field(0.2, ge=0)
    text: float = Field(0.2, ge=0)
    position: float = Field(0.2, ge=0)
    color: float = Field(0.2, ge=0)
    perceptual: float = Field(0.2, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> ScoreWeights:
        if math.fsum(self.model_dump().values()) <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class ChartWeights(BaseModel):
    """Weights of a chart's components in its overall score (normalised over those that are scored).

    Text, colour and the perceptual term 0.2 each, chart type 0.3: ChartMimic weighs its text, type
    and colour measures equally, but here colour is measured three times over (its own component, the
    series counted by colour, and the perceptual term, which sees colour first), and a chart of the
    wrong type is a wrong answer whatever its colours: at 0.2 the loop kept a scatter plot in the
    target's colour over its own right bar chart in another colour. Layout (``position``) and
    ``series`` 0.1 each: series count is partly counted by colour already, and OCR boxes of small
    chart texts are noisier than those of UI text. ``chart_type`` is dropped (and the rest
    renormalised) when nothing says what the target's type is.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: float = Field(0.2, ge=0)
    position: float = Field(0.1, ge=0)
    color: float = Field(0.2, ge=0)
    series: float = Field(0.1, ge=0)
    chart_type: float = Field(0.3, ge=0)
    perceptual: float = Field(0.2, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> ChartWeights:
        if math.fsum(self.model_dump().values()) <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class ScoreScales(BaseModel):
    """Where each per-item measure reaches 0, i.e. how strict the components are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    position: float = Field(0.25, gt=0)
    """Share of the target's diagonal at which a block's displacement scores 0 (a 40 px move on a
    1280x800 page scores about 0.89)."""
    color: float = Field(50.0, gt=0)
    """CIEDE2000 difference at which a colour scores 0 (about the distance from blue to red); a
    just-noticeable difference (~2) costs 4%."""
    min_text_similarity: float = Field(MIN_SIMILARITY, ge=0, le=1)
    """Blocks less similar in text than this are not paired (as in Design2Code)."""


class BlockPair(BaseModel):
    """A target block and the candidate block paired with it, and how they differ."""

    model_config = ConfigDict(frozen=True)

    target: TextBlock
    candidate: TextBlock
    text_similarity: float
    dx: float
    """Candidate centre minus target centre, pixels (positive: too far right)."""
    dy: float
    """Positive: too low."""
    position: float
    delta_e: float | None
    color: float | None
    weight: float
    """How much this pair counts in the text, position and colour components."""
    same_pixels: bool = False
    """Both pictures draw the same thing at the target's place (``evidence.py``): whatever the two text
    sources read, this pair does not differ, and the critique says nothing about it."""

    @property
    def edge_dx(self) -> float:
        """The horizontal offset of the nearest-agreeing edge (left, centre or right): a line set in another
        font is wider or narrower, and keeps the edge it is aligned by; a line the two text sources cut
        differently ('--url="jdbc:…"' read whole, the string alone in the DOM) keeps the edge they share."""
        t, c = self.target.box, self.candidate.box
        return min((c[0] - t[0], self.dx, c[2] - t[2]), key=abs)


class _Score(BaseModel):
    """What UI and chart scores share: the components both have, the look, the text-block matching.
    ``overall`` is the weighted mean of the subclass's ``components()``, so it cannot disagree with them."""

    model_config = ConfigDict(frozen=True)

    text: float
    position: float
    color: float
    perceptual: float
    ssim: float
    histogram: float
    pairs: tuple[BlockPair, ...] = ()
    missing: tuple[TextBlock, ...] = ()
    """Target blocks with no counterpart in the candidate."""
    extra: tuple[TextBlock, ...] = ()
    """Candidate blocks with no counterpart in the target."""
    target_size: tuple[int, int]
    candidate_size: tuple[int, int]
    target_palette: tuple[PaletteColor, ...] = ()
    candidate_palette: tuple[PaletteColor, ...] = ()
    quiet_colors: tuple[tuple[int, int, int], ...] = ()
    """Palette colours (of either picture) that the other picture draws too, at the same places or about
    as much: the critique names no colour difference in them."""

    def components(self) -> dict[str, float | None]:
        raise NotImplementedError

    def weight_map(self) -> dict[str, float]:
        raise NotImplementedError

    @computed_field  # type: ignore[prop-decorator]
    @property
    def overall(self) -> float:
        return weighted_overall(self.components(), self.weight_map())


class VisualScore(_Score):
    """A UI candidate's score against its target: overall and per component, all in [0, 1]."""

    kind: Literal["ui"] = "ui"
    block: float
    content_missing: tuple[TextBlock, ...] = ()
    """Target lines most of whose words the candidate lacks anywhere (``content.py``): what the critique
    calls missing, since lines wrapped elsewhere are not."""
    content_extra: tuple[TextBlock, ...] = ()
    """Candidate lines most of whose words the target lacks anywhere."""
    missing_fonts: tuple[str, ...] = ()
    """Families the page loads that its render could not have (``HtmlRender.missing_fonts``): the text in
    them is set in a fallback font, so where lines sit, how large they look, where they wrap and how tall
    the page is say nothing about the candidate's code (``critique.TYPESETTING_KINDS``)."""
    weights: ScoreWeights = ScoreWeights()

    def components(self) -> dict[str, float | None]:
        return {
            "block": self.block,
            "text": self.text,
            "position": self.position,
            "color": self.color,
            "perceptual": self.perceptual,
        }

    def weight_map(self) -> dict[str, float]:
        return self.weights.model_dump()


class ChartScore(_Score):
    """A chart candidate's score against its target; ``chart_type`` is None without a type hint.
    Its ``target_palette`` holds the target's chromatic dominant colours: its series colours, largest first."""

    kind: Literal["chart"] = "chart"
    series: float
    chart_type: float | None
    palette_pairs: tuple[tuple[int, int, float], ...] = ()
    """(index in target_palette, index in candidate_palette, ΔE00) of the paired colours."""
    target_types: tuple[str, ...] = ()
    candidate_types: tuple[str, ...] = ()
    type_evidence: tuple[TypeEvidence, ...] = ()
    """Per candidate series: how filled its marks are on both pictures (``charttype.type_evidence``); when
    there is any, it decides ``chart_type`` and the hint is not used."""
    candidate_series: tuple[TraceSeries, ...] = ()
    series_colors: tuple[SeriesColor, ...] = ()
    """Per labelled candidate series: its colour and the target legend's colour for that label."""
    trace_error: str | None = None
    aspect: float = 1.0
    """The candidate's content shape (width / height) over the target's; the candidate is scaled onto the
    target's content box before anything is compared (``align.py``), so this is the one geometric
    difference left to report."""
    weights: ChartWeights = ChartWeights()

    def components(self) -> dict[str, float | None]:
        return {
            "text": self.text,
            "position": self.position,
            "color": self.color,
            "series": self.series,
            "chart_type": self.chart_type,
            "perceptual": self.perceptual,
        }

    def weight_map(self) -> dict[str, float]:
        return self.weights.model_dump()


def _shared_fields(
    look: Perceptual,
    pairs: list[BlockPair],
    matching: Matching,
    target: list[TextBlock],
    candidate: list[TextBlock],
    t_rgb: RgbArray,
    c_rgb: RgbArray,
) -> dict[str, Any]:
    """The fields both scores fill the same way."""
    return {
        "perceptual": look.combined,
        "ssim": look.ssim,
        "histogram": look.histogram,
        "pairs": tuple(pairs),
        "missing": tuple(target[i] for i in matching.missing),
        "extra": tuple(candidate[j] for j in matching.extra),
        "target_size": _size(t_rgb),
        "candidate_size": _size(c_rgb),
    }


# --- shared pieces -------------------------------------------------------------------------------


def _size(rgb: RgbArray) -> tuple[int, int]:
    return (int(rgb.shape[1]), int(rgb.shape[0]))


def _ratio(num: Sequence[float], den: Sequence[float], empty: float) -> float:
    total = math.fsum(den)
    if total <= 0:
        return empty
    return max(0.0, min(1.0, math.fsum(num) / total))


def weighted_overall(components: Mapping[str, float | None], weights: Mapping[str, float]) -> float:
    """Weighted mean of the scored components (None ones left out); exactly 1.0 if all are 1.0."""
    used = [(weights[k], v) for k, v in components.items() if v is not None and weights[k] > 0]
    if not used:
        return 0.0
    return _ratio([w * v for w, v in used], [w for w, _ in used], 0.0)


def visible_to_ocr(blocks: Sequence[TextBlock], ocr: Sequence[TextBlock]) -> list[TextBlock]:
    """The blocks OCR found something at (a third of the smaller box overlapping)."""
    return [b for b in blocks if any(intersection_area(b.box, o.box) >= 0.3 * min(b.area, o.area) > 0 for o in ocr)]


def _words(text: str) -> list[str]:
    return normalize_text(text).casefold().split()


def _run_at(words: list[str], within: list[str], start: int) -> int:
    """Where ``words`` next occur in ``within`` as a run, at or after ``start``; -1 if they do not."""
    n = len(words)
    return next((k for k in range(start, len(within) - n + 1) if within[k : k + n] == words), -1)


def _in_order(words: list[str], within: list[str]) -> bool:
    """Whether ``words`` are some of ``within``'s words, in their order."""
    rest = iter(within)
    return all(word in rest for word in words)


PART_OVERLAP = 0.3
"""Share of a block's box another block must cover for the block to be read as a part of it."""


def part_of(block: TextBlock, others: Sequence[TextBlock]) -> bool:
    """Whether ``block``'s words are some of the words, in order, of one of ``others`` drawn over it:
    OCR read part of a line (left out a "|" or an "="), or split a legend entry "GIN + GSAT" into "GIN"
    and "GSAT" (the second paired with the trace's whole entry, the first no missing text but the rest
    of it)."""
    words = _words(block.text)
    return bool(words) and any(
        intersection_area(block.box, other.box) >= PART_OVERLAP * block.area
        and len(_words(other.text)) > len(words)
        and _in_order(words, _words(other.text))
        for other in others
    )


def join_fragments(blocks: Sequence[TextBlock], lines: Sequence[TextBlock]) -> list[TextBlock]:
    """``blocks`` with the pieces OCR split one of ``lines`` into joined again: two or more blocks on
    that line's row, within its box, whose words are runs of the line's words in the same order. OCR
    reads "NaturalQuestions - Closed-book" as "NaturalQuestions" and "Closed-book" (the dash unread, the
    gap wide), and one line cannot be paired with two blocks."""
    out = list(blocks)
    boxes = np.array([b.box for b in out], dtype=np.float64).reshape(-1, 4)
    for line in lines:
        x0, y0, x1, y1 = line.box
        slack = 0.5 * (y1 - y0)
        overlap = np.minimum(boxes[:, 3], y1) - np.maximum(boxes[:, 1], y0)
        on_row = (
            (overlap >= 0.5 * (boxes[:, 3] - boxes[:, 1])) & (boxes[:, 0] >= x0 - slack) & (boxes[:, 2] <= x1 + slack)
        )
        if int(on_row.sum()) < 2:
            continue
        pieces = sorted((int(k) for k in np.flatnonzero(on_row) if out[k].text.strip()), key=lambda k: out[k].box[0])
        theirs = _words(line.text)
        at, kept = 0, []
        for k in pieces:
            words = _words(out[k].text)
            found = _run_at(words, theirs, at)
            if found >= 0:
                kept.append(k)
                at = found + len(words)
        if len(kept) < 2:
            continue
        parts = [out[k] for k in kept]
        joined = parts[0].model_copy(
            update={"text": " ".join(p.text for p in parts), "box": union_box(p.box for p in parts)}
        )
        out = [joined if k == kept[0] else b for k, b in enumerate(out) if k == kept[0] or k not in kept]
        boxes = np.array([b.box for b in out], dtype=np.float64).reshape(-1, 4)
    return out


def drop_seen_in_both(
    target: Sequence[TextBlock],
    candidate: Sequence[TextBlock],
    matching: Matching,
    t_rgb: RgbArray,
    c_rgb: RgbArray,
) -> tuple[list[TextBlock], list[TextBlock], Matching]:
    """Unpaired blocks whose pixels are the same on both pictures (``evidence.py``), or which a second
    reading of both pictures does not confirm (``second_reading.py``), are not differences: the two
    text sources read them differently (OCR took a marker for "(ou", split a word, missed a tick label;
    the trace holds a formula's source). They are left out of both sides; the matching is renumbered to match."""
    if t_rgb.shape != c_rgb.shape:
        return list(target), list(candidate), matching
    quiet_t = {
        i for i in matching.missing if same_drawing(t_rgb, c_rgb, target[i].box) or part_of(target[i], candidate)
    }
    quiet_c = {
        j for j in matching.extra if same_drawing(t_rgb, c_rgb, candidate[j].box) or part_of(candidate[j], target)
    }
    # What the pixels cannot settle, a second reading of both pictures at those places does.
    rest_t = [i for i in matching.missing if i not in quiet_t]
    rest_c = [j for j in matching.extra if j not in quiet_c]
    if rest_t or rest_c:
        places = [(target[i].box, target[i].text, True) for i in rest_t]
        places += [(candidate[j].box, candidate[j].text, False) for j in rest_c]
        stands = confirmed(t_rgb, c_rgb, places)
        quiet_t |= {i for i, kept in zip(rest_t, stands[: len(rest_t)], strict=True) if not kept}
        quiet_c |= {j for j, kept in zip(rest_c, stands[len(rest_t) :], strict=True) if not kept}
    if not quiet_t and not quiet_c:
        return list(target), list(candidate), matching
    new_t = {i: n for n, i in enumerate(i for i in range(len(target)) if i not in quiet_t)}
    new_c = {j: n for n, j in enumerate(j for j in range(len(candidate)) if j not in quiet_c)}
    return (
        [target[i] for i in new_t],
        [candidate[j] for j in new_c],
        Matching(
            pairs=tuple((new_t[i], new_c[j]) for i, j in matching.pairs),
            missing=tuple(new_t[i] for i in matching.missing if i in new_t),
            extra=tuple(new_c[j] for j in matching.extra if j in new_c),
        ),
    )


def confirm_pair(pair: BlockPair, t_rgb: RgbArray, c_rgb: RgbArray) -> BlockPair:
    """A pair that reads or sits differently, but whose pixels at the target's place are the same on both
    pictures, does not differ: the texts are the same as drawn (OCR misread) and in the same place (the
    pairing took a repeated text from elsewhere)."""
    if pair.text_similarity >= 1.0 and math.hypot(pair.dx, pair.dy) < CONFIRM_PX:
        return pair  # nothing the critique would say: no need to look
    if t_rgb.shape != c_rgb.shape or not same_drawing(t_rgb, c_rgb, pair.target.box):
        return pair
    return pair.model_copy(update={"text_similarity": 1.0, "dx": 0.0, "dy": 0.0, "position": 1.0, "same_pixels": True})


def confirm_size(pair: BlockPair, t_rgb: RgbArray, c_rgb: RgbArray) -> BlockPair:
    """A page pair whose boxes differ in height, but whose pixels at the target's place are the same on
    both pictures, is drawn at the same size: the two text sources box a line differently (OCR takes in a
    button's padding, the DOM a line's full height). Only the critique's size line looks at this
    (``same_pixels``); the scores stay as measured."""
    if abs(pair.candidate.height / max(pair.target.height, 1.0) - 1) < SIZE_RECHECK or pair.same_pixels:
        return pair
    if t_rgb.shape != c_rgb.shape or not same_drawing(t_rgb, c_rgb, pair.target.box, SAME_SIZE):
        return pair
    return pair.model_copy(update={"same_pixels": True})


def reread_pairs(pairs: Sequence[BlockPair], t_rgb: RgbArray, c_rgb: RgbArray) -> list[BlockPair]:
    """Chart texts that still read differently get the second reading (``second_reading.py``): the
    difference stands only if the target's text reads again at its place on the target and not on the
    candidate. Texts equal but for spaces ("s=50", "s = 50": OCR's spacing) and the characters OCR
    confuses (``normalize_text``: "6 x 10°" read for 6 times 10 to the 0) do not differ, nor a target
    text that is some of the words drawn over it (``part_of``: OCR read part of the line)."""
    out = list(pairs)
    disputed = [k for k, p in enumerate(out) if p.text_similarity < 1.0 and not p.same_pixels]
    for k in list(disputed):
        p = out[k]
        if (
            "".join(normalize_text(p.target.text).split()).casefold()
            == "".join(normalize_text(p.candidate.text).split()).casefold()
        ) or part_of(p.target, [p.candidate]):
            out[k] = p.model_copy(update={"text_similarity": 1.0})
            disputed.remove(k)
    if disputed:
        stands = confirmed(t_rgb, c_rgb, [(out[k].target.box, out[k].target.text, True) for k in disputed])
        for k, kept in zip(disputed, stands, strict=True):
            if not kept:
                out[k] = out[k].model_copy(update={"text_similarity": 1.0})
    return out


def _pairs(
    target: Sequence[TextBlock],
    candidate: Sequence[TextBlock],
    matching: Matching,
    diagonal: float,
    scales: ScoreScales,
    weight: Callable[[TextBlock], float],
) -> list[BlockPair]:
    out: list[BlockPair] = []
    for i, j in matching.pairs:
        t, c = target[i], candidate[j]
        dx = c.center[0] - t.center[0]
        dy = c.center[1] - t.center[1]
        distance = math.hypot(dx, dy)
        position = max(0.0, 1.0 - distance / (scales.position * diagonal)) if distance else 1.0
        de: float | None = None
        colour: float | None = None
        if t.color is not None and c.color is not None:
            de = delta_e(t.color, c.color)
            colour = similarity_from_delta_e(de, scales.color)
        out.append(
            BlockPair(
                target=t,
                candidate=c,
                text_similarity=text_similarity(t.text, c.text),
                dx=dx,
                dy=dy,
                position=position,
                delta_e=de,
                color=colour,
                weight=max(weight(t), 1e-9),
            )
        )
    return out


def same_place_colour(pair: BlockPair, t_rgb: RgbArray, c_rgb: RgbArray, scales: ScoreScales) -> BlockPair:
    """A page pair's colour difference measured the same way on both pictures: the ink colour inside the
    candidate's line box (the DOM's words, tight to their ink) on each, where both draw the same thing
    there. The two text sources cut lines differently (OCR read a link with the dark full stop after it,
    'Reagan.', whose darkest pixels are the stop's; the DOM line holds the blue link alone), so their
    colours can differ where the pixels do not. A recoloured text has its new colour at that place on the
    candidate and its old one on the target, so its difference stands. Where the page above is laid out a
    little taller or shorter, the line's place on the target is the candidate's moved back by the pair's
    offset."""
    box = pair.candidate.box
    if pair.delta_e is None or pair.delta_e < RECHECK_DELTA_E:
        return pair
    t_box = box
    agree, shift = best_match(t_rgb, c_rgb, box)
    if agree < SAME:
        # The line's own offset, by whichever edge the two sources' boxes share (left, centre or right).
        t, c, oy = pair.target.box, pair.candidate.box, round(pair.dy)
        tries = []
        for ox in sorted({round(c[0] - t[0]), round(pair.dx), round(c[2] - t[2])}, key=abs):
            if ox or oy:
                moved = shifted(box, -ox, -oy)
                tries.append((*best_match(t_rgb, c_rgb, moved, offset=(ox, oy)), moved))
        if not tries or max(a for a, _, _ in tries) < SAME:
            return pair
        _, shift, t_box = max(tries, key=lambda found: found[0])
    t_ink, c_ink = measure_ink(t_box, t_rgb), measure_ink(box, c_rgb)
    if t_ink is None or c_ink is None or t_ink.color is None or c_ink.color is None:
        return pair
    de = delta_e(t_ink.color, c_ink.color)
    c_place = shifted(t_box, *shift)
    if (
        de >= RECHECK_DELTA_E
        and _paler(t_ink.color, c_ink.color, t_ink.background)
        and same_ink(t_rgb, t_box, t_ink.background, c_rgb, c_place, c_ink.background)
    ):
        de = 0.0  # thin strokes the grid blends differently: the same ink, spread over other pixels
    if de >= pair.delta_e:
        return pair
    return pair.model_copy(update={"delta_e": de, "color": similarity_from_delta_e(de, scales.color)})


def _paler(a: RGB, b: RGB, background: RGB) -> bool:
    """Whether one of two colours is the other blended with the background (``palette.tint_of``)."""
    bg = np.asarray(background, dtype=np.float64)
    far, near = sorted(
        (np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)), key=lambda c: -float(np.linalg.norm(c - bg))
    )
    return bool(tint_of(near[None, :], far, bg)[0])


def same_ink(
    t_rgb: RgbArray, t_box: Box, t_bg: RGB, c_rgb: RgbArray, c_box: Box, c_bg: RGB, tolerance: float = INK_TOLERANCE
) -> bool:
    """Whether the two places, drawing the same glyphs, put the same ink on their backgrounds: per channel,
    the sum of every pixel's difference from the background. A glyph's colour is read from its cores,
    and a thin stroke ('||') that falls across two pixel columns on one picture and on one column on the
    other has lighter cores there (each a blend of ink and background) though it is drawn in the same
    colour; what the stroke takes from the background, summed, does not depend on where it falls. A text
    drawn in another colour takes something else from it."""
    t_mass, c_mass = _ink_mass(t_rgb, t_box, t_bg), _ink_mass(c_rgb, c_box, c_bg)
    if t_mass is None or c_mass is None:
        return False
    scale = max(float(np.linalg.norm(t_mass)), float(np.linalg.norm(c_mass)), 1e-9)
    return float(np.linalg.norm(t_mass - c_mass)) < tolerance * scale


def _ink_mass(rgb: RgbArray, box: Box, background: RGB) -> FloatArray | None:
    h, w = rgb.shape[:2]
    x0, y0 = max(0, math.floor(box[0]) - MARGIN_INK), max(0, math.floor(box[1]) - MARGIN_INK)
    x1, y1 = min(w, math.ceil(box[2]) + MARGIN_INK), min(h, math.ceil(box[3]) + MARGIN_INK)
    if x1 <= x0 or y1 <= y0:
        return None
    patch = rgb[y0:y1, x0:x1].reshape(-1, 3).astype(np.float64)
    return np.asarray((patch - np.asarray(background, dtype=np.float64)).sum(axis=0), dtype=np.float64)


SAME_LINE_READING = 0.95
"""Pairs reading at least this alike are the same line on both pages (``critique.SAME_LINE``)."""
NEIGHBOURS = 4


def local_offset(pairs: Sequence[BlockPair], block: TextBlock, is_target: bool) -> tuple[float, float]:
    """Where the candidate has the page around ``block`` relative to the target (candidate minus target,
    the median over the ``NEIGHBOURS`` nearest lines both pages share): a page set in another font wraps a
    heading once more, and every line below it sits a line lower."""
    if len(pairs) < 2:
        return (0.0, 0.0)
    cx, cy = block.center

    def distance(p: BlockPair) -> float:
        x, y = (p.target if is_target else p.candidate).center
        return math.hypot(x - cx, y - cy)

    near = sorted(pairs, key=distance)[:NEIGHBOURS]
    return (statistics.median(p.edge_dx for p in near), statistics.median(p.dy for p in near))


def page_end_shift(
    pairs: Sequence[BlockPair], block: TextBlock, is_target: bool, heights: tuple[int, int]
) -> float | None:
    """How far down the candidate may have ``block`` when the block is below every line both pages share
    and the pages' heights differ (``heights``: target's, candidate's): at the page's end, moved by the
    height difference. The shared lines above it can all sit where they sat (``local_offset`` is then no
    shift) while something between them and the block grew: a product name wrapping under its picture in
    the page's last row, the footer a line lower. None where that is not the case."""
    grown = heights[1] - heights[0]
    if not grown or not pairs:
        return None
    lowest = max((p.target if is_target else p.candidate).box[3] for p in pairs)
    return float(grown) if block.box[1] >= lowest else None


def _pair_means(pairs: Sequence[BlockPair], any_blocks: bool) -> tuple[float, float, float]:
    """(text, position, colour) means over pairs, weighted; no pairs: 1.0 if no blocks at all, else 0."""
    if not pairs:
        empty = 0.0 if any_blocks else 1.0
        return empty, empty, empty
    w = [p.weight for p in pairs]
    text = _ratio([p.weight * p.text_similarity for p in pairs], w, 1.0)
    position = _ratio([p.weight * p.position for p in pairs], w, 1.0)
    coloured = [p for p in pairs if p.color is not None]
    colour = _ratio([p.weight * (p.color or 0.0) for p in coloured], [p.weight for p in coloured], 1.0)
    return text, position, colour


def _rgb(png: bytes | RgbArray) -> RgbArray:
    return load_rgb(png) if isinstance(png, bytes) else png


class _TargetCache(Generic[T]):
    """What a target picture's scoring needs of it, by the picture's content hash (a few entries, least
    recently used first out): the target is the same for every candidate of a run, so it is decoded and
    measured once. Thread-safe."""

    def __init__(self, measure: Callable[[RgbArray], T], size: int = 8) -> None:
        self._measure = measure
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, T] = OrderedDict()

    def __call__(self, png: bytes | RgbArray) -> T:
        if not isinstance(png, bytes):
            return self._measure(png)
        key = image_key(png)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit
        value = self._measure(load_rgb(png))  # read-only pixels (load_rgb's), shared by every candidate
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value


# --- UIs -----------------------------------------------------------------------------------------


_ui_target: _TargetCache[tuple[RgbArray, tuple[PaletteColor, ...]]] = _TargetCache(
    lambda rgb: (rgb, dominant_colors(rgb, chromatic_only=False, merge_delta_e=UI_MERGE_DELTA_E))
)
"""The target page's pixels and palette."""


def score_ui(
    target_png: bytes | RgbArray,
    target_blocks: Sequence[TextBlock],
    candidate_png: bytes | RgbArray,
    candidate_blocks: Sequence[TextBlock],
    *,
    weights: ScoreWeights | None = None,
    scales: ScoreScales | None = None,
    candidate_ocr: Sequence[TextBlock] | None = None,
    missing_fonts: Sequence[str] = (),
) -> VisualScore:
    """Score a rendered page against the target picture.

    ``target_blocks``: ``ocr_blocks(target_png)``; ``candidate_blocks``: ``dom_blocks(render)`` (or
    OCR blocks of the candidate). No sandbox, no randomness; OCR only for a second reading of the lines
    the two text sources disagree on and the pixels cannot settle.
    """
    weights = weights or ScoreWeights()
    scales = scales or ScoreScales()
    t_rgb, t_palette = _ui_target(target_png)
    c_rgb = _rgb(candidate_png)
    target = list(target_blocks)
    candidate = list(candidate_blocks)
    if candidate_ocr is not None:
        candidate = visible_to_ocr(candidate, candidate_ocr)
    matching = match_blocks(target, candidate, scales.min_text_similarity)
    diagonal = max(1.0, math.hypot(t_rgb.shape[1], t_rgb.shape[0]))
    pairs = _pairs(target, candidate, matching, diagonal, scales, lambda b: b.area)
    pairs = [same_place_colour(p, t_rgb, c_rgb, scales) for p in pairs]
    block = _ratio(
        [p.target.area for p in pairs] + [p.candidate.area for p in pairs],
        [b.area for b in target] + [b.area for b in candidate],
        1.0 if not target and not candidate else 0.0,
    )
    text, position, colour = _pair_means(pairs, bool(target or candidate))
    look = perceptual_similarity(t_rgb, c_rgb)
    content = content_diff(
        target,
        candidate,
        [ij for ij, p in zip(matching.pairs, pairs, strict=True) if p.text_similarity >= SAME_LINE_READING],
    )
    pairs = [confirm_size(p, t_rgb, c_rgb) for p in pairs]
    same = [p for p in pairs if p.text_similarity >= SAME_LINE_READING]
    # A line OCR read on the target but the DOM does not hold, or one the DOM holds but OCR missed (faint
    # text), is no difference where the pixels agree, nor where a second reading of both pictures at its
    # place does not confirm it (``second_reading.py``).
    missing = [target[i] for i in content.missing if not same_drawing(t_rgb, c_rgb, target[i].box)]
    extra = [candidate[j] for j in content.extra if not same_drawing(t_rgb, c_rgb, candidate[j].box)]
    blocks = [(b, True) for b in missing] + [(b, False) for b in extra]
    places = [(b.box, b.text, own) for b, own in blocks]
    offsets = [local_offset(same, b, own) for b, own in blocks]
    stands = confirmed(t_rgb, c_rgb, places, offsets=offsets)
    # A line below all the shared ones may have moved with the page's end instead: a difference only if
    # it stands there too (one more reading, for the few such lines of pages of different heights).
    heights = (t_rgb.shape[0], c_rgb.shape[0])
    at_end = [
        (k, (offsets[k][0], dy))
        for k, (b, own) in enumerate(blocks)
        if stands[k] and (dy := page_end_shift(same, b, own, heights)) is not None
    ]
    if at_end:
        again = confirmed(t_rgb, c_rgb, [places[k] for k, _ in at_end], offsets=[o for _, o in at_end])
        for (k, _), kept in zip(at_end, again, strict=True):
            stands[k] = stands[k] and kept
    c_palette = dominant_colors(c_rgb, chromatic_only=False, merge_delta_e=UI_MERGE_DELTA_E)
    # A palette's colours are the means of clusters, and two pictures of the same page can cluster their
    # darks differently (#010101 on one, #343434 on the other, each holding both): a large colour without
    # its counterpart in the candidate's palette is missing only if the candidate does not draw it about
    # as much (looked at for those alone: a colour's mask costs milliseconds on a long page).
    unmatched = [
        c.rgb
        for c in t_palette
        if c.share >= LARGE_AREA and min((delta_e(c.rgb, o.rgb) for o in c_palette), default=99.0) >= LARGE_AREA_DELTA_E
    ]
    return VisualScore(
        content_missing=tuple(b for b, kept in zip(missing, stands[: len(missing)], strict=True) if kept),
        content_extra=tuple(b for b, kept in zip(extra, stands[len(missing) :], strict=True) if kept),
        block=block,
        text=text,
        position=position,
        color=colour,
        **_shared_fields(look, pairs, matching, target, candidate, t_rgb, c_rgb),
        target_palette=t_palette,
        candidate_palette=c_palette,
        quiet_colors=tuple(rgb for rgb in unmatched if colour_present(t_rgb, c_rgb, rgb, PAGE_COLOUR_DISTANCE)),
        missing_fonts=tuple(missing_fonts),
        weights=weights,
    )


# --- charts --------------------------------------------------------------------------------------


_chart_target: _TargetCache[
    tuple[RgbArray, tuple[PaletteColor, ...], tuple[int, int, int, int] | None, TargetMarks, FloatArray]
] = _TargetCache(
    lambda rgb: (rgb, dominant_colors(rgb, chromatic_only=True), content_box(rgb), TargetMarks(rgb), greys(rgb))
)
"""The target chart's pixels, chromatic palette, content box, its marks (measured per colour as asked) and
the greys its strokes are drawn over."""


def score_chart(
    target_png: bytes | RgbArray,
    target_blocks: Sequence[TextBlock],
    candidate_png: bytes | RgbArray,
    candidate_trace: ChartTrace | Mapping[str, Any] | None,
    *,
    target_hint: str | Sequence[str] | None = None,
    weights: ChartWeights | None = None,
    scales: ScoreScales | None = None,
    candidate_ocr: Sequence[TextBlock] | None = None,
) -> ChartScore:
    """Score a rendered chart against the target picture.

    ``target_blocks``: ``ocr_blocks(target_png)``; ``candidate_trace``: ``RunResult.trace`` of
    ``run_chart(..., trace=True)``. ``target_hint``: the chart type(s) the target is believed to be
    ("bar", "line + scatter", ["pie"]...). If the trace failed, the candidate's texts come from
    ``candidate_ocr`` when given (else the candidate has none).
    """
    weights = weights or ChartWeights()
    scales = scales or ScoreScales()
    t_rgb, t_palette, t_box, t_marks, t_greys = _chart_target(target_png)
    raw_c = _rgb(candidate_png)
    aligned = align(raw_c, t_rgb, t_box)
    c_rgb = aligned.rgb
    trace = candidate_trace if isinstance(candidate_trace, ChartTrace) else ChartTrace.parse(candidate_trace)
    target = list(target_blocks)
    c_ocr = None if candidate_ocr is None else [aligned.block(b) for b in candidate_ocr]
    if trace.error is None:
        candidate = blocks_from_words([aligned.block(w) for w in trace_words(trace)], c_rgb)
        if c_ocr is not None:
            candidate = visible_to_ocr(candidate, c_ocr)
    else:
        candidate = list(c_ocr or [])
    target = join_fragments(target, candidate)
    matching = match_blocks(target, candidate, scales.min_text_similarity)
    target, candidate, matching = drop_seen_in_both(target, candidate, matching, t_rgb, c_rgb)
    diagonal = max(1.0, math.hypot(t_rgb.shape[1], t_rgb.shape[0]))
    pairs = _pairs(target, candidate, matching, diagonal, scales, lambda b: float(len(b.text)))
    pairs = [confirm_pair(p, t_rgb, c_rgb) for p in pairs]
    pairs = reread_pairs(pairs, t_rgb, c_rgb)
    text = _ratio(
        [p.text_similarity * (len(p.target.text) + len(p.candidate.text)) for p in pairs],
        [float(len(b.text)) for b in target] + [float(len(b.text)) for b in candidate],
        1.0 if not target and not candidate else 0.0,
    )
    _, position, _ = _pair_means(pairs, bool(target or candidate))
    # The render as drawn: scaling it onto the target's canvas blends colours at every edge.
    c_palette = dominant_colors(raw_c, chromatic_only=True)
    # Strokes one picture draws solid and the other blended at their edges (``blends.py``).
    # Each side is read as drawn (the render not resampled) and mapped onto the other by the alignment.
    c_greys = greys(raw_c)
    t_palette, c_palette = (
        reconcile_blends(t_rgb, t_palette, raw_c, c_palette, aligned.backward, t_greys),
        reconcile_blends(raw_c, c_palette, t_rgb, t_palette, aligned.forward, c_greys),
    )
    colour, palette_pairs = palette_similarity(t_palette, c_palette, scales.color)
    n_t, n_c = len(t_palette), len(c_palette)
    series = 1.0 if n_t == n_c else 1.0 - abs(n_t - n_c) / max(n_t, n_c)
    # Palette colours that the other picture draws at the same places are no difference (``evidence``).
    # Only colours the critique would name are checked: unpaired ones and pairs that differ.
    paired_t = {i: d for i, _, d in palette_pairs}
    paired_c = {j: d for _, j, d in palette_pairs}
    suspect_c = [c.rgb for j, c in enumerate(c_palette) if paired_c.get(j, 99.0) >= PALETTE_DELTA_E]
    suspect_t = [c.rgb for i, c in enumerate(t_palette) if paired_t.get(i, 99.0) >= PALETTE_DELTA_E]
    series_colors = legend_colors(t_rgb, target, trace.series, c_rgb, candidate)
    blended: set[tuple[int, int, int]] = set()
    for sc in series_colors:
        if sc.delta_e is not None and sc.delta_e >= PALETTE_DELTA_E and sc.candidate and sc.target:
            suspect_c.append(sc.candidate)
            suspect_t.append(sc.target)
            # A hatched or thin swatch drawn solid on one side and blended on the other.
            if drawn_as(raw_c, sc.candidate, t_rgb, sc.target, aligned.forward, c_greys) or drawn_as(
                t_rgb, sc.target, raw_c, sc.candidate, aligned.backward, t_greys
            ):
                blended |= {sc.candidate, sc.target}
    quiet = tuple(
        sorted(
            {rgb for rgb in suspect_c if colour_covered(c_rgb, t_rgb, rgb) or colour_present(c_rgb, t_rgb, rgb)}
            | {rgb for rgb in suspect_t if colour_covered(t_rgb, c_rgb, rgb) or colour_present(t_rgb, c_rgb, rgb)}
            | blended
        )
    )
    target_types = normalize_types(target_hint)
    marks = [
        (s.type, parse_hex(s.colors[0]))
        for s in trace.series
        if s.colors and s.type != "heatmap" and (s.type != "pie" or len(s.colors) == 1)
    ]
    evidence = tuple(type_evidence(t_marks, c_rgb, marks)) if trace.error is None else ()
    from_picture = evidence_agreement(evidence)
    if from_picture is None and t_palette and (len(marks) == 1 or trace.types == ("pie",)):
        # One series, in a colour the target does not draw (or a pie, whose wedges each have their
        # own), so nothing above was measured: its marks' shape on its own render (a pie's is known from
        # its trace) against the target's main colour's. Where both are known they decide, not the hint
        # (a small model reads big dots as a line, separate bars as a histogram, and names its answer by
        # the same misreading); where either is not, the hint does.
        kind, shape = (marks[0][0], mark_shape(raw_c, marks[0][1])) if len(marks) == 1 else ("pie", "wedges")
        verdict = shape_verdict(kind, shape, t_marks.shape(t_palette[0].rgb))
        if verdict is not None:
            from_picture, by_shape = verdict
            target_types = by_shape if from_picture < 1.0 else target_types
    chart_type = from_picture if from_picture is not None else type_agreement(trace.types, target_types)
    look = perceptual_similarity(t_rgb, c_rgb)
    return ChartScore(
        text=text,
        position=position,
        color=colour,
        series=series,
        chart_type=chart_type,
        **_shared_fields(look, pairs, matching, target, candidate, t_rgb, c_rgb),
        target_palette=t_palette,
        candidate_palette=c_palette,
        palette_pairs=tuple(palette_pairs),
        quiet_colors=quiet,
        target_types=target_types,
        candidate_types=trace.types,
        type_evidence=evidence,
        candidate_series=trace.series,
        series_colors=series_colors,
        trace_error=trace.error,
        aspect=aligned.aspect,
        weights=weights,
    )
