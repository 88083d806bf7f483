"""The score in words, for the model: what is missing, wrong, misplaced or mis-coloured, most costly
first. Every sentence names the text or colour concerned and says what the target has instead, with
coordinates in pixels of the target picture (x, y of the block's top-left corner), so the model can act
on it without seeing the numbers behind it.

Impact is the score a finding costs: the component's weight times the share of the component the item
accounts for, so the list order follows the overall score.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .blocks import TextBlock
from .colors import delta_e, parse_hex, to_hex
from .palette import LARGE_AREA, LARGE_AREA_DELTA_E, PaletteColor
from .trace import TraceSeries
from .visual import BlockPair, ChartScore, VisualScore

MAX_FINDINGS = 8
MAX_CHARS = 1600
MAX_QUOTE = 60
POSITION_TOLERANCE_PX = 3.0
"""Displacements smaller than this (or a quarter of the text's height) are measurement noise."""
CHART_POSITION_TOLERANCE = 0.8
"""In a chart, a text is reported misplaced only when it moved by most of its own height: a chart
drawn at another dpi places legends and labels a few pixels apart (measured on right answers of the
calibration half: legend entries 4-8 px, about half their height)."""
SIZE_TOLERANCE = 0.15
"""Relative difference of the ink height of a text under which its font size is not questioned."""
PALETTE_TOLERANCE = 8.0
PAGE_NEIGHBOURS = 4
SAME_LINE = 0.95
"""On a page, position, size and colour are compared only between lines that read (almost) the same:
a line wrapped elsewhere holds other words, another width and another main colour."""
SAME_COLOUR_LINE = 0.9
"""Colours of page lines are compared when they read at least this alike (Design2Code's pairing
threshold is 0.5): a line wrapped elsewhere still has the colour of its words."""
PAGE_SIZE_TOLERANCE = 0.25
"""Pages rendered with another font (the target's web font is not in the sandbox) differ in letter
height by up to about a fifth on right answers of the calibration half."""
PAGE_COLOR_TOLERANCE = 15.0
"""ΔE00 under which a page text's colour is not reported: anti-aliasing and font weight move the
measured glyph colour of right answers by up to about 10."""
PAGE_PERCEPTUAL_TOLERANCE = 0.6
"""A page's overall look is reported below this: right answers rendered with other fonts score 0.7-0.9."""
PERCEPTUAL_TOLERANCE = 0.75
"""A chart's overall look is reported below this. Rendered at the picture's own scale, right answers'
whole-picture SSIM moves with a pixel or two of offset in thin grid lines and hatches (calibration half:
5 of 249 right scripts between 0.77 and 0.80); the wrong answers' own lines (type, text, colour, a
removed series) carry their difference, none of them rested on this line alone."""

ROLE_NAMES = {
    "title": "the title",
    "suptitle": "the figure title",
    "xlabel": "the x-axis label",
    "ylabel": "the y-axis label",
    "xtick": "an x tick label",
    "ytick": "a y tick label",
    "legend": "a legend entry",
    "legend_title": "the legend title",
    "text": "an annotation",
}


@dataclass(frozen=True)
class Finding:
    """One thing to fix: what it costs the score, its kind and the sentence for the model."""

    impact: float
    kind: str
    message: str


def quote(text: str, limit: int = MAX_QUOTE) -> str:
    """``'text'`` (``"text"`` if it holds an apostrophe), shortened with an ellipsis when long; the
    text itself is never altered, so the model can copy it."""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return f'"{text}"' if "'" in text else f"'{text}'"


def _at(block: TextBlock) -> str:
    return f"x={round(block.box[0])}, y={round(block.box[1])}"


def _offset_words(dx: float, dy: float, tolerance: float) -> str:
    parts = []
    if abs(dx) >= tolerance:
        parts.append(f"{round(abs(dx))} px too far {'right' if dx > 0 else 'left'}")
    if abs(dy) >= tolerance:
        parts.append(f"{round(abs(dy))} px too {'low' if dy > 0 else 'high'}")
    return " and ".join(parts)


def _role(block: TextBlock, chart: bool) -> str:
    if not chart or block.role is None:
        return ""
    name = ROLE_NAMES.get(block.role)
    return f" ({name})" if name else ""


def _guess_target_role(block: TextBlock, size: tuple[int, int]) -> str:
    width, height = size
    if block.box[1] < 0.12 * height and abs(block.center[0] - width / 2) < 0.25 * width:
        return ", likely the title"
    return ""


def _text_findings(score: VisualScore | ChartScore, weight_missing: float, chart: bool) -> list[Finding]:
    """Missing, extra, wrong, misplaced and mis-coloured texts."""
    out: list[Finding] = []
    w = score.weights
    size_of = (lambda b: float(len(b.text))) if chart else (lambda b: b.area)
    total = math.fsum(
        [size_of(p.target) for p in score.pairs]
        + [size_of(p.candidate) for p in score.pairs]
        + [size_of(b) for b in score.missing]
        + [size_of(b) for b in score.extra]
    )
    total = max(total, 1e-9)
    missing = score.missing if isinstance(score, ChartScore) else score.content_missing
    extra = score.extra if isinstance(score, ChartScore) else score.content_extra
    for block in missing:
        if chart and sum(ch.isalnum() for ch in block.text) < 2:
            continue  # "=]", "&§", a lone "1": OCR reading a marker or a tick, not a text
        role = _guess_target_role(block, score.target_size) if chart else ""
        out.append(
            Finding(
                weight_missing * 2 * size_of(block) / total,
                "missing",
                f"Missing text: {quote(block.text)} (target at {_at(block)}{role})",
            )
        )
    for block in extra:
        if chart and sum(ch.isalnum() for ch in block.text) < 2:
            continue  # OCR rarely reads a lone character (the "0" tick) on the target: likely a miss
        out.append(
            Finding(
                weight_missing * size_of(block) / total,
                "extra",
                f"Extra text not in the target: {quote(block.text)}{_role(block, chart)} (at {_at(block)})",
            )
        )
    pair_total = max(math.fsum(p.weight for p in score.pairs), 1e-9)
    for p in score.pairs:
        if chart and p.text_similarity < 1.0 and not p.same_pixels:
            # (On a page a changed text is a missing and an extra line, judged word by word.)
            out.append(
                Finding(
                    w.text * (p.weight / pair_total) * (1 - p.text_similarity) + 1e-6,
                    "text",
                    f"Text {quote(p.candidate.text)}{_role(p.candidate, chart)} should read {quote(p.target.text)}",
                )
            )
    # On a page, a line whose words differ was wrapped elsewhere: where it sits says nothing then.
    same_line = [p for p in score.pairs if chart or p.text_similarity >= SAME_LINE]
    out.extend(_position_findings(same_line, w.position, pair_total, chart))
    for p in score.pairs:
        t_h, c_h = p.target.height, p.candidate.height
        ratio = c_h / max(t_h, 1.0)
        tolerance = SIZE_TOLERANCE if chart else PAGE_SIZE_TOLERANCE
        similar = 0.9 if chart else SAME_LINE
        if p.same_pixels or p.text_similarity < similar or abs(ratio - 1) < tolerance or abs(c_h - t_h) < 2:
            continue
        how = f"about {abs(ratio - 1):.0%} {'larger' if ratio > 1 else 'smaller'}"
        out.append(
            Finding(
                w.position * (p.weight / pair_total) * min(1.0, abs(ratio - 1)) * 0.5 + 1e-6,
                "font",
                f"Text {quote(p.candidate.text)}{_role(p.candidate, chart)} is drawn {how} than in the target "
                f"(letters {round(c_h)} px tall, target {round(t_h)} px): check its font size",
            )
        )
    if not chart:
        for p in score.pairs:
            if (
                p.delta_e is None
                or p.delta_e < PAGE_COLOR_TOLERANCE
                or p.color is None
                or p.text_similarity < SAME_COLOUR_LINE
            ):
                continue
            assert p.candidate.color is not None and p.target.color is not None
            out.append(
                Finding(
                    w.color * (p.weight / pair_total) * (1 - p.color) + 1e-6,
                    "color",
                    f"Colour of {quote(p.candidate.text)} is {to_hex(p.candidate.color)}, "
                    f"target {to_hex(p.target.color)}",
                )
            )
    return out


def _position_findings(pairs: Sequence[BlockPair], weight: float, pair_total: float, chart: bool) -> list[Finding]:
    """Displaced texts; a shift shared by most texts is reported once, and the rest relative to it."""
    out: list[Finding] = []
    base_dx = base_dy = 0.0
    if len(pairs) >= 3:
        mdx = statistics.median(p.dx if chart else p.edge_dx for p in pairs)
        mdy = statistics.median(p.dy for p in pairs)
        near = [
            p
            for p in pairs
            if math.hypot((p.dx if chart else p.edge_dx) - mdx, p.dy - mdy)
            < max(POSITION_TOLERANCE_PX, 0.25 * p.target.height)
        ]
        if math.hypot(mdx, mdy) >= POSITION_TOLERANCE_PX and len(near) >= 0.6 * len(pairs):
            base_dx, base_dy = mdx, mdy
            share = math.fsum(p.weight * (1 - p.position) for p in near) / pair_total
            out.append(
                Finding(
                    weight * share + 1e-6,
                    "shift",
                    f"Everything is shifted: text sits {_offset_words(mdx, mdy, POSITION_TOLERANCE_PX)} "
                    "(check margins, padding and sizes above it)",
                )
            )
    centers = np.array([p.target.center for p in pairs], dtype=np.float64).reshape(-1, 2)
    for n, p in enumerate(pairs):
        tolerance = max(POSITION_TOLERANCE_PX, (CHART_POSITION_TOLERANCE if chart else 1.0) * p.target.height)
        dx, dy = p.dx - base_dx, p.dy - base_dy
        if not chart:
            dx, dy = _page_offset(pairs, n, centers=centers)
        if math.hypot(dx, dy) < tolerance:
            continue
        relative = " relative to the rest" if (base_dx or base_dy) else ""
        out.append(
            Finding(
                weight * (p.weight / pair_total) * (1 - p.position) + 1e-6,
                "position",
                f"Text {quote(p.candidate.text)}{_role(p.candidate, chart)} is "
                f"{_offset_words(dx, dy, tolerance)}{relative} (target at {_at(p.target)})",
            )
        )
    return out


def _page_offset(
    pairs: Sequence[BlockPair],
    n: int,
    k: int = PAGE_NEIGHBOURS,
    centers: npt.NDArray[np.float64] | None = None,
) -> tuple[float, float]:
    """Pair ``n``'s offset relative to its ``k`` nearest neighbours' (median): a page rendered with
    another font moves whole regions (every line below a re-wrapped paragraph), which is one
    difference at most and not one per line. ``centers``: the pairs' target centres, if already known."""
    p = pairs[n]
    others = [pairs[i] for i in _nearest_pairs(pairs, n, k, centers)]
    dx, dy = p.edge_dx, p.dy
    if len(others) < 2:
        return dx, dy
    return dx - statistics.median(q.edge_dx for q in others), dy - statistics.median(q.dy for q in others)


def _nearest_pairs(
    pairs: Sequence[BlockPair], n: int, k: int, centers: npt.NDArray[np.float64] | None = None
) -> list[int]:
    """The ``k`` pairs other than ``n`` whose target centres are nearest pair ``n``'s, nearest first and
    ties in pair order: ``sorted(others, key=math.hypot distance)[:k]``. numpy's distances (a few ulp
    off ``math.hypot``'s) only narrow the field: every pair within a hair of the ``k``-th nearest is
    kept, and those few are sorted by ``math.hypot``, so a page of hundreds of lines costs milliseconds."""
    if centers is None:
        centers = np.array([q.target.center for q in pairs], dtype=np.float64).reshape(-1, 2)
    x, y = pairs[n].target.center
    rough = np.hypot(centers[:, 0] - x, centers[:, 1] - y)
    rough[n] = np.inf
    field = [i for i in range(len(pairs)) if i != n]
    if 0 <= k < len(field):
        kth = float(np.partition(rough, k - 1)[k - 1]) if k else 0.0
        field = [int(i) for i in np.flatnonzero(rough <= kth * (1 + 1e-9))]
    exact = {i: math.hypot(pairs[i].target.center[0] - x, pairs[i].target.center[1] - y) for i in field}
    return sorted(field, key=lambda i: (exact[i], i))[:k]


def _look_findings(score: VisualScore | ChartScore, weight: float) -> list[Finding]:
    out: list[Finding] = []
    (tw, th), (cw, ch) = score.target_size, score.candidate_size
    if abs(cw - tw) > 0.02 * tw or abs(ch - th) > 0.02 * th:
        rel = abs(cw * ch - tw * th) / max(tw * th, 1)
        out.append(
            Finding(
                weight * min(1.0, rel) * 0.5,
                "size",
                f"The render is {cw}x{ch} px, the target {tw}x{th} px",
            )
        )
    floor = PERCEPTUAL_TOLERANCE if isinstance(score, ChartScore) else PAGE_PERCEPTUAL_TOLERANCE
    if score.perceptual < floor:
        out.append(
            Finding(
                weight * (1 - score.perceptual) * 0.5,
                "perceptual",
                f"The overall look differs (perceptual similarity {score.perceptual:.2f}): compare layout, "
                "spacing, sizes, backgrounds, borders and images",
            )
        )
    return out


def _ui_palette_findings(score: VisualScore) -> list[Finding]:
    """Large colour areas (backgrounds, panels, buttons) of the target the candidate does not have."""
    out: list[Finding] = []
    for colour in score.target_palette:
        if colour.share < LARGE_AREA or colour.rgb in score.quiet_colors:
            continue
        near = _nearest(colour, score.candidate_palette)
        if near is not None and delta_e(colour.rgb, near.rgb) < LARGE_AREA_DELTA_E:
            continue
        instead = f"; the candidate's nearest large colour is {to_hex(near.rgb)}" if near else ""
        out.append(
            Finding(
                score.weights.perceptual * colour.share * 0.5,
                "palette",
                f"The target's colour {to_hex(colour.rgb)} covers {colour.share:.0%} of the picture "
                f"(background or large areas) but is missing from the candidate{instead}",
            )
        )
    return out


def _nearest(colour: PaletteColor, palette: Sequence[PaletteColor]) -> PaletteColor | None:
    if not palette:
        return None
    return min(palette, key=lambda c: delta_e(colour.rgb, c.rgb))


def _nearest_share(rgb: tuple[int, int, int], palette: Sequence[PaletteColor]) -> float:
    """The share of the palette colour nearest to ``rgb`` (how much of the chart it colours)."""
    if not palette:
        return 0.0
    return min(palette, key=lambda c: delta_e(rgb, c.rgb)).share


def _hexes(palette: Sequence[PaletteColor]) -> str:
    return ", ".join(to_hex(c.rgb) for c in palette) or "no coloured marks"


def _series_named(rgb: tuple[int, int, int], series: Sequence[TraceSeries]) -> str:
    best: tuple[float, str] | None = None
    for s in series:
        label = s.shown_label
        if not label:
            continue
        for c in s.colors:
            d = delta_e(rgb, parse_hex(c))
            if d < PALETTE_TOLERANCE * 2 and (best is None or d < best[0]):
                best = (d, label)
    return f"Series {quote(best[1])}" if best else "Colour"


def _chart_findings(score: ChartScore) -> list[Finding]:
    out: list[Finding] = []
    w = score.weights
    if score.trace_error:
        out.append(Finding(0.0, "trace", f"(The candidate's chart could not be traced: {score.trace_error})"))
    if score.type_evidence:
        total = max(1, sum(e.pixels for e in score.type_evidence))
        for e in score.type_evidence:
            if e.differs:
                out.append(
                    Finding(
                        w.chart_type * max(0.5, e.pixels / total) + 1e-3,  # a type change is never minor
                        "chart_type",
                        f"Chart type: candidate draws {e.type} in {to_hex(e.color)}, where the target has "
                        f"{e.target_looks} in that colour",
                    )
                )
    elif score.chart_type is not None and score.chart_type < 1.0:
        drawn = ", ".join(score.candidate_types) or "nothing"
        out.append(
            Finding(
                w.chart_type * (1 - score.chart_type) + 1e-3,
                "chart_type",
                f"Chart type: candidate draws {drawn}, target looks like {', '.join(score.target_types)}",
            )
        )
    n_t, n_c = len(score.target_palette), len(score.candidate_palette)
    if n_t != n_c:
        drawn = ""
        if score.trace_error is None and len(score.candidate_series) != n_c:
            drawn = f"; the candidate draws {len(score.candidate_series)} series"
        out.append(
            Finding(
                0.5 * w.series * (1 - score.series) + 1e-3,  # a summary of the colour findings: after them
                "series",
                f"Series count: candidate {n_c} ({_hexes(score.candidate_palette)}), target {n_t} "
                f"({_hexes(score.target_palette)}), counted by distinct series colours{drawn}",
            )
        )
    paired_t = {i for i, _, _ in score.palette_pairs}
    paired_c = {j for _, j, _ in score.palette_pairs}
    said: list[tuple[int, int, int]] = []  # candidate colours already named with their legend colour

    def quiet(rgb: tuple[int, int, int]) -> bool:
        return any(delta_e(rgb, q) < PALETTE_TOLERANCE for q in score.quiet_colors)

    for sc in score.series_colors:
        if sc.delta_e is None or sc.delta_e < PALETTE_TOLERANCE:
            continue
        assert sc.candidate is not None and sc.target is not None
        if quiet(sc.candidate) and quiet(sc.target):
            continue
        said.append(sc.candidate)
        near = _nearest_share(sc.target, score.target_palette)
        out.append(
            Finding(
                w.color * near * min(1.0, sc.delta_e / 50) + 1e-3,
                "color",
                f"Series {quote(sc.label)} is {to_hex(sc.candidate)}, target {to_hex(sc.target)} (legend)",
            )
        )
    for i, j, de in score.palette_pairs:
        if de < PALETTE_TOLERANCE:
            continue
        t, c = score.target_palette[i], score.candidate_palette[j]
        if any(delta_e(c.rgb, rgb) < PALETTE_TOLERANCE for rgb in said) or (quiet(c.rgb) and quiet(t.rgb)):
            continue
        name = _series_named(c.rgb, score.candidate_series)
        out.append(
            Finding(
                w.color * t.share * min(1.0, de / 50),
                "color",
                f"{name} is {to_hex(c.rgb)}, target colour looks like {to_hex(t.rgb)}",
            )
        )
    said_target = [sc.target for sc in score.series_colors if sc.target is not None]
    for i, t in enumerate(score.target_palette):
        if (
            i not in paired_t
            and not quiet(t.rgb)
            and not any(delta_e(t.rgb, rgb) < PALETTE_TOLERANCE for rgb in said_target)
        ):
            out.append(
                Finding(
                    w.color * t.share * 0.5,
                    "color",
                    f"The target also uses {to_hex(t.rgb)} ({t.share:.0%} of the coloured area), "
                    "which the candidate lacks",
                )
            )
    for j, c in enumerate(score.candidate_palette):
        if j not in paired_c and not quiet(c.rgb):
            name = _series_named(c.rgb, score.candidate_series)
            subject = f"{name} ({to_hex(c.rgb)})" if name != "Colour" else to_hex(c.rgb)
            out.append(
                Finding(
                    w.color * c.share * 0.5,
                    "color",
                    f"The candidate uses {subject}, a colour the target does not have",
                )
            )
    return out


PAGE_FLOORS = {"position": 0.0025, "font": 0.004, "shift": 0.02, "size": 0.006}
"""Impact under which a page finding of that kind is noise, not sent. Measured on right answers of the
calibration half rendered as their pictures were taken (Design2Code: 1280x720 window, DejaVu fonts), where
what is left is the web fonts the pictures were drawn with and no render can have (a quarter of the pages:
Raleway, Open Sans, Work Sans, Enriqueta...): lines displaced relative to their neighbours by up to 0.0024
of the score, headings set up to 30% smaller (0.003), everything below a heading that wraps once more
shifted by up to 48 px (0.017), pages up to 5.4% taller or shorter (0.0054). No wrong answer of those 40
pages (103 that change pixels) was caught by such a line alone: with these floors as many fail (93)."""
CHART_FLOORS = {"font": 0.003, "position": 0.001, "perceptual": 0.02, "series": 0.03, "text": 0.002}
"""Impact under which a chart finding of that kind is noise, measured on the calibration half's right
answers (ChartMimic scripts drawn at 100 dpi against their 120 dpi pictures): letter heights off by up
to 0.0026, labels a few pixels off (0.0008), the look of a picture resampled (0.016), colour-map shades
and blends counted as series (0.026), a tick OCR read with a neighbour (0.001)."""


TYPESETTING_KINDS = frozenset({"position", "shift", "font", "size", "perceptual"})
"""Page findings that a fallback font makes by itself: lines displaced, everything below a line that wraps
once more shifted, letters of another size, another page height, another look. Where the render could
not have the fonts the page loads (``VisualScore.missing_fonts``) these are not sent; what the text says,
which texts there are and their colours are compared as everywhere. Measured on Design2Code's
calibration half: right answers drawn in fallback fonts differed from their pictures by these alone."""


KIND_CAPS = {"missing": 5, "extra": 3, "text": 3, "position": 3, "color": 4, "font": 3}
"""At most this many findings of one kind are spelled out; the rest are summed up in one sentence."""
_MORE = {
    "missing": "more target texts are missing",
    "extra": "more texts are not in the target",
    "text": "more texts read differently",
    "position": "more texts are displaced",
    "color": "more colours differ",
    "font": "more texts have a different size",
}


def findings(score: VisualScore | ChartScore) -> list[Finding]:
    """Every finding, most costly first, with long runs of one kind summed up."""
    if isinstance(score, ChartScore):
        found = _chart_findings(score) + _text_findings(score, score.weights.text, chart=True)
    else:
        found = _text_findings(score, score.weights.block, chart=False) + _ui_palette_findings(score)
    found += _look_findings(score, score.weights.perceptual)
    floors = CHART_FLOORS if isinstance(score, ChartScore) else PAGE_FLOORS
    found = [f for f in found if f.impact >= floors.get(f.kind, 0.0)]
    if isinstance(score, VisualScore) and score.missing_fonts:
        found = [f for f in found if f.kind not in TYPESETTING_KINDS]
    found.sort(key=lambda f: -f.impact)
    kept: list[Finding] = []
    overflow: dict[str, list[Finding]] = {}
    for f in found:
        cap = KIND_CAPS.get(f.kind)
        if cap is not None and sum(k.kind == f.kind for k in kept) >= cap:
            overflow.setdefault(f.kind, []).append(f)
        else:
            kept.append(f)
    for kind, rest in overflow.items():
        last = max(i for i, f in enumerate(kept) if f.kind == kind)
        impact = min(kept[last].impact, math.fsum(f.impact for f in rest))
        kept.insert(last + 1, Finding(impact, kind, f"... and {len(rest)} {_MORE[kind]}"))
    return kept


def critique(score: VisualScore | ChartScore, *, limit: int = MAX_FINDINGS) -> list[str]:
    """Up to ``limit`` sentences, most costly first; empty when nothing worth saying differs."""
    return [f.message for f in findings(score)[:limit]]


def summary_line(score: VisualScore | ChartScore) -> str:
    """One line with the overall score and each component."""
    parts = [
        f"{name.replace('_', ' ').replace('color', 'colour')} {value:.2f}"
        for name, value in score.components().items()
        if value is not None
    ]
    label = "Chart score" if isinstance(score, ChartScore) else "Visual score"
    line = f"{label} {score.overall:.2f} ({', '.join(parts)})"
    if isinstance(score, VisualScore) and score.missing_fonts:
        names = ", ".join(score.missing_fonts)
        line += f"; the sandbox lacks the fonts {names}, so text set in them is compared for words and colours only"
    return line


def render_critique(score: VisualScore | ChartScore, *, limit: int = MAX_FINDINGS, max_chars: int = MAX_CHARS) -> str:
    """The critique as text for the model's next prompt: a summary line, then one bullet per finding,
    cut to ``max_chars``."""
    lines = critique(score, limit=limit)
    head = summary_line(score)
    if not lines:
        return f"{head}\nNo differences worth fixing were found."
    text = head + "\nDifferences from the target, most important first:"
    for line in lines:
        bullet = f"\n- {line}"
        if len(text) + len(bullet) > max_chars:
            break
        text += bullet
    return text
