"""Chart-type agreement between a candidate (from its trace) and what the target is believed to be.

A picture alone does not say reliably whether it shows bars or a histogram, so the target's type comes
from a hint: the type the model said it drew, a previous candidate's trace, or the user. Without a hint
the component is not scored (``None``) rather than guessed. Types are compared exactly and by family
(a histogram is closer to bars than to lines): the score is the mean of the two Jaccard indices.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

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
