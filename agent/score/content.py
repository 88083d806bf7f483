"""Which words of a page are really missing or extra, whatever the line breaks.

A page rendered on another machine wraps its lines elsewhere (other fonts, other widths), so lines of
the target (OCR) and of the candidate (DOM) hold different runs of the same words: line-level matching
then reports "missing" halves of lines that are there, just wrapped. Words are what a reader compares:
every word of three letters or more on each side is matched to one on the other side (the same word,
or one OCR misread a letter of), wherever it sits; what is left over is missing or extra. A line counts
as missing (or extra) only when most of its words are, and at least ``MIN_RUN`` of them, or when it holds
a run of ``MIN_RUN + 1`` unmatched words in a row: a lone unmatched word is more often an OCR misreading
than a change.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from .blocks import TextBlock
from .matching import normalize_text

WORD = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)
MIN_LETTERS = 3
MIN_RUN = 2
"""Unmatched words a line must have to be reported."""
MOSTLY = 0.5
"""Share of a line's words that must be unmatched for the line to be reported."""
FUZZY = 0.75
"""Two words this alike (difflib ratio) are the same word read with an OCR slip."""


def words_of(text: str) -> list[str]:
    return [w.casefold() for w in WORD.findall(normalize_text(text)) if sum(ch.isalpha() for ch in w) >= MIN_LETTERS]


@dataclass(frozen=True)
class ContentDiff:
    missing: tuple[int, ...]
    """Indices of target lines most of whose words the candidate lacks."""
    extra: tuple[int, ...]
    """Indices of candidate lines most of whose words the target lacks."""
    missing_words: int
    extra_words: int
    target_words: int
    candidate_words: int


def _unmatched(
    a: list[list[str]],
    b: list[list[str]],
    a_y: Sequence[float],
    b_y: Sequence[float],
    same_lines: Sequence[tuple[int, int]] = (),
) -> tuple[list[list[bool]], list[list[bool]]]:
    """Per word of each side, whether it found no counterpart on the other (exact first, then fuzzy).
    Words of lines both pages share (``same_lines``: target and candidate line indices) are matched
    within that pair first; the others each go to the nearest occurrence left (by the lines' heights on
    the page), so a changed "Contact us" is not excused by another "Contact" far below, and a removed
    heading is not excused by the same words of the line that took its place."""
    a_left = [[True] * len(line) for line in a]
    b_left = [[True] * len(line) for line in b]
    for i, j in same_lines:
        for k, w in enumerate(a[i]):
            for q, v in enumerate(b[j]):
                if b_left[j][q] and v == w:
                    a_left[i][k] = False
                    b_left[j][q] = False
                    break
    pool: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i, line in enumerate(b):
        for k, w in enumerate(line):
            if b_left[i][k]:
                pool[w].append((i, k))
    for i, line in enumerate(a):
        for k, w in enumerate(line):
            if not a_left[i][k]:
                continue
            spots = pool.get(w)
            if spots:
                n = min(range(len(spots)), key=lambda s: abs(b_y[spots[s][0]] - a_y[i]))
                bi, bk = spots.pop(n)
                a_left[i][k] = False
                b_left[bi][bk] = False
    rest_b = [(w, i, k) for i, line in enumerate(b) for k, w in enumerate(line) if b_left[i][k]]
    for i, line in enumerate(a):
        for k, w in enumerate(line):
            if not a_left[i][k]:
                continue
            for n, (bw, bi, bk) in enumerate(rest_b):
                if abs(len(bw) - len(w)) > 2:
                    continue
                m = difflib.SequenceMatcher(None, w, bw, autojunk=False)
                if m.quick_ratio() >= FUZZY and m.ratio() >= FUZZY:
                    a_left[i][k] = False
                    b_left[bi][bk] = False
                    del rest_b[n]
                    break
    return a_left, b_left


def _reported(lines: list[list[str]], left: list[list[bool]]) -> tuple[int, ...]:
    out = []
    for i, (line, flags) in enumerate(zip(lines, left, strict=True)):
        n = sum(flags)
        run = longest = 0
        for flag in flags:
            run = run + 1 if flag else 0
            longest = max(longest, run)
        if n >= MIN_RUN and (n >= MOSTLY * len(line) or longest >= MIN_RUN + 1):
            out.append(i)
    return tuple(out)


def content_diff(
    target: Sequence[TextBlock], candidate: Sequence[TextBlock], same_lines: Sequence[tuple[int, int]] = ()
) -> ContentDiff:
    """Target lines the candidate lacks and candidate lines the target lacks, judged word by word;
    ``same_lines``: (target, candidate) indices of lines that read the same on both pages."""
    a = [words_of(b.text) for b in target]
    b = [words_of(c.text) for c in candidate]
    a_left, b_left = _unmatched(a, b, [t.center[1] for t in target], [c.center[1] for c in candidate], same_lines)
    return ContentDiff(
        missing=_reported(a, a_left),
        extra=_reported(b, b_left),
        missing_words=sum(sum(f) for f in a_left),
        extra_words=sum(sum(f) for f in b_left),
        target_words=sum(len(line) for line in a),
        candidate_words=sum(len(line) for line in b),
    )
