"""Which target block is which candidate block: text similarity, then an optimal one-to-one assignment.

As in Design2Code, blocks are paired by what they say, not where they are (position is what we then
measure), with the Hungarian algorithm maximising the total similarity; pairs less similar than a
threshold are not pairs. Among equally similar candidates (repeated texts) the nearest one wins.
Text is compared after folding the characters OCR confuses (l/I/| and 1; O and ° and 0; the
multiplication sign and x), so a target read as "Ql" still pairs with and equals "Q1"; a real difference
between those characters goes unnoticed.
A character OCR's English alphabet cannot read (a Greek letter in a legend, say) matches whatever OCR
made of it, as long as most of the text is readable and agrees.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import cydifflib
import numpy as np
import numpy.typing as npt

from .blocks import TextBlock

MIN_SIMILARITY = 0.5
"""Pairs whose (case-insensitive) text similarity is below this are not considered the same block."""
MAX_BLOCKS = 400
"""Only the largest blocks of each side are matched (the assignment is cubic in the block count)."""

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ",
    }
)
_CONFUSABLE = str.maketrans({"l": "1", "I": "1", "|": "1", "O": "0", "\u00b0": "0", "\u00d7": "x"})
"""Also a superscript 0 (NFKC makes it "0") that OCR reads as a degree sign, and the multiplication sign
OCR reads as an "x" (a log axis's 4 times 10 to the 0, read "4x10°")."""


def normalize_text(text: str) -> str:
    """NFKC, straight quotes and dashes, single spaces, OCR-confusable characters folded."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return " ".join(text.split()).translate(_CONFUSABLE)


def ocr_readable(char: str) -> bool:
    """Whether English OCR (tesseract's ``eng``) can read ``char``: ASCII, Latin-1, common punctuation."""
    code = ord(char)
    return code < 0x250 or 0x2010 <= code <= 0x2044 or char in "€™"


def _equal_but_unreadable(a: str, b: str) -> bool:
    """Same length, and every position that differs holds a character OCR cannot read on one side;
    such positions are under half of the text."""
    if len(a) != len(b):
        return False
    unreadable = [x != y and (not ocr_readable(x) or not ocr_readable(y)) for x, y in zip(a, b, strict=True)]
    return all(u or x == y for u, x, y in zip(unreadable, a, b, strict=True)) and 2 * sum(unreadable) < len(a)


def text_similarity(a: str, b: str, *, case: bool = True) -> float:
    """difflib's ratio of the normalised texts, in [0, 1]; exactly 1.0 when they normalise equal (a
    character OCR cannot read counting as equal to what OCR read in its place)."""
    na, nb = normalize_text(a), normalize_text(b)
    if not case:
        na, nb = na.casefold(), nb.casefold()
    if na == nb or _equal_but_unreadable(na, nb):
        return 1.0
    if not na or not nb:
        return 0.0
    return float(cydifflib.SequenceMatcher(None, na, nb, autojunk=False).ratio())


def assign(cost: npt.ArrayLike) -> list[tuple[int, int]]:
    """Minimum-cost assignment of rows to distinct columns (Hungarian algorithm, Jonker-Volgenant
    shortest augmenting paths); rectangular matrices assign min(rows, cols) pairs. Sorted by row."""
    matrix = np.asarray(cost, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError("cost must be a 2-D matrix")
    if matrix.size == 0:
        return []
    if not np.all(np.isfinite(matrix)):
        raise ValueError("cost must be finite")
    transposed = matrix.shape[0] > matrix.shape[1]
    if transposed:
        matrix = matrix.T
    n, m = matrix.shape
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)  # owner[j]: row (1-based) holding column j; 0 = free
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = owner[j0]
            free = ~used[1:]
            reduced = matrix[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            used_cols = np.flatnonzero(used)
            u[owner[used_cols]] += delta
            v[used_cols] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = int(way[j0])
            owner[j0] = owner[j1]
            j0 = j1
    pairs = [(int(owner[j]) - 1, j - 1) for j in range(1, m + 1) if owner[j] != 0]
    if transposed:
        pairs = [(c, r) for r, c in pairs]
    return sorted(pairs)


@dataclass(frozen=True)
class Matching:
    """Index pairs (target, candidate) and the indices left over on each side."""

    pairs: tuple[tuple[int, int], ...]
    missing: tuple[int, ...]
    """Target blocks without a candidate: text the candidate lacks (or changed beyond recognition)."""
    extra: tuple[int, ...]
    """Candidate blocks without a target: text the target does not have."""


def _char_counts(texts: Sequence[str], alphabet: dict[str, int]) -> npt.NDArray[np.int32]:
    counts = np.zeros((len(texts), len(alphabet)), dtype=np.int32)
    for row, text in enumerate(texts):
        for char, count in Counter(text).items():
            counts[row, alphabet[char]] = count
    return counts


def similarity_matrix(a: Sequence[str], b: Sequence[str], min_similarity: float) -> npt.NDArray[np.float64]:
    """``difflib.SequenceMatcher(None, a[r], b[c], autojunk=False).ratio()`` for every pair that difflib's
    own upper bounds (``real_quick_ratio``: the lengths; ``quick_ratio``: the characters in common, as a
    multiset) put at ``min_similarity`` or above; 1.0 for equal texts, 0.0 for the rest.

    The bounds are those difflib computes, with the same arithmetic (``2.0 * matches / length``), over
    all pairs at once in numpy, and one matcher per ``b`` text (difflib indexes its second sequence), so
    the values are the ones a matcher per pair gives, at a fraction of the cost: a page of a few hundred
    lines has tens of thousands of pairs, nearly all of which fail the bounds."""
    sim = np.zeros((len(a), len(b)))
    if not a or not b:
        return sim
    len_a = np.array([len(t) for t in a], dtype=np.int64)[:, None]
    len_b = np.array([len(t) for t in b], dtype=np.int64)[None, :]
    total = len_a + len_b
    equal = np.array([[x == y for y in b] for x in a], dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        possible = ~equal & (len_a > 0) & (len_b > 0) & (2.0 * np.minimum(len_a, len_b) / total >= min_similarity)
    rows = np.flatnonzero(possible.any(axis=1))
    if rows.size:
        alphabet = {char: k for k, char in enumerate(sorted({char for t in (*a, *b) for char in t}))}
        counts_a, counts_b = _char_counts(a, alphabet), _char_counts(b, alphabet)
        step = max(1, 4_000_000 // max(1, len(b) * len(alphabet)))  # bounds the (rows, b, alphabet) block
        for start in range(0, rows.size, step):
            chunk = rows[start : start + step]
            common = np.minimum(counts_a[chunk][:, None, :], counts_b[None, :, :]).sum(axis=2)
            possible[chunk] &= 2.0 * common / total[chunk] >= min_similarity
    sim[equal] = 1.0
    for c in np.flatnonzero(possible.any(axis=0)):
        matcher = cydifflib.SequenceMatcher(None, "", b[c], autojunk=False)
        for r in np.flatnonzero(possible[:, c]):
            matcher.set_seq1(a[r])
            sim[r, c] = matcher.ratio()
    return sim


def _largest(blocks: Sequence[TextBlock], limit: int) -> list[int]:
    order = sorted(range(len(blocks)), key=lambda i: -blocks[i].area)
    return sorted(order[:limit])


def match_blocks(
    target: Sequence[TextBlock],
    candidate: Sequence[TextBlock],
    min_similarity: float = MIN_SIMILARITY,
    max_blocks: int = MAX_BLOCKS,
) -> Matching:
    """Pair target and candidate blocks by text (case-insensitive), one to one, maximising similarity."""
    ti = _largest(target, max_blocks)
    ci = _largest(candidate, max_blocks)
    norm_t = [normalize_text(target[i].text).casefold() for i in ti]
    norm_c = [normalize_text(candidate[j].text).casefold() for j in ci]
    sim = similarity_matrix(norm_t, norm_c, min_similarity)
    pairs: list[tuple[int, int]] = []
    if sim.size:
        diag = max(
            1.0,
            math.hypot(
                max([b.box[2] for b in [*target, *candidate]], default=1.0),
                max([b.box[3] for b in [*target, *candidate]], default=1.0),
            ),
        )
        tc = np.array([target[i].center for i in ti])
        cc = np.array([candidate[j].center for j in ci])
        dist = np.hypot(tc[:, None, 0] - cc[None, :, 0], tc[:, None, 1] - cc[None, :, 1]) / diag
        cost = -sim + 1e-3 * dist  # similarity first; distance only breaks ties
        for r, c in assign(cost):
            if sim[r, c] >= min_similarity:
                pairs.append((ti[r], ci[c]))
    paired_t = {p[0] for p in pairs}
    paired_c = {p[1] for p in pairs}
    return Matching(
        pairs=tuple(sorted(pairs)),
        missing=tuple(i for i in range(len(target)) if i not in paired_t),
        extra=tuple(j for j in range(len(candidate)) if j not in paired_c),
    )
