"""Grouping words into lines by geometry alone, the same rule for OCR words, DOM words and chart texts.

OCR engines and browsers disagree on what a "block" is (tesseract joins a row of nav links, the DOM
splits them per element); grouping every source's words with one rule makes the blocks comparable.
Two words are on one line when their ink shares most of its height and the gap between them is about
a space wide, measured against the line's ink height.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .blocks import TextBlock, union_box

GAP_FACTOR = 0.75
"""Largest horizontal gap between words of one line, as a share of the line's ink height."""
OVERLAP_FACTOR = 0.5
"""Smallest shared vertical extent of a word and a line, as a share of the smaller of their heights."""


@dataclass
class _Line:
    words: list[TextBlock] = field(default_factory=list)
    x1: float = 0.0
    y0: float = 0.0
    y1: float = 0.0

    def add(self, word: TextBlock) -> None:
        if not self.words:
            self.y0, self.y1 = word.box[1], word.box[3]
        self.words.append(word)
        self.x1 = max(self.x1, word.box[2])
        self.y0 = min(self.y0, word.box[1])
        self.y1 = max(self.y1, word.box[3])

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def _join(words: list[TextBlock]) -> TextBlock:
    main = max(words, key=lambda w: (w.area, -w.box[0]))
    return TextBlock(
        text=" ".join(w.text for w in words),
        box=union_box(w.box for w in words),
        color=main.color,
        role=main.role,
    )


def group_lines(
    words: Sequence[TextBlock], gap_factor: float = GAP_FACTOR, overlap_factor: float = OVERLAP_FACTOR
) -> list[TextBlock]:
    """Lines of ``words`` in reading order (by top edge, then left to right).

    A line's colour and role are those of its largest word, the way a reader would name it.
    """
    lines: list[_Line] = []
    for word in sorted(words, key=lambda w: (w.box[0], w.box[1])):
        best: _Line | None = None
        best_gap = float("inf")
        wx0, wy0, _, wy1 = word.box
        w_height = wy1 - wy0
        # ``vertical_overlap`` and the heights written out: this loop runs words x lines times (a long
        # page's few hundred words), and the calls were most of its cost; the arithmetic is the same.
        for line in lines:
            shared = max(0.0, min(line.y1, wy1) - max(line.y0, wy0))
            l_height = line.y1 - line.y0
            if shared < overlap_factor * (l_height if l_height < w_height else w_height):
                continue
            gap = wx0 - line.x1
            limit = gap_factor * (l_height if l_height > w_height else w_height)
            if -0.25 * limit <= gap <= limit and abs(gap) < best_gap:
                best, best_gap = line, abs(gap)
        if best is None:
            best = _Line(x1=word.box[2])
            lines.append(best)
        best.add(word)
    joined = [_join(line.words) for line in lines]
    return sorted(joined, key=lambda b: (round(b.box[1]), b.box[0]))
