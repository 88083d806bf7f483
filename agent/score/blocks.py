"""The unit every score compares: a piece of visible text, where it is and what colour it is.

Text blocks come from three sources that know different things: OCR of the target picture (text and
pixels only), the candidate page's DOM, and a trace of the candidate chart's artists. All three are
turned into ``TextBlock`` and measured on their own pictures the same way (``words.py``), so that a
difference between two blocks is a difference between the pictures, not between the instruments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, model_validator

Box = tuple[float, float, float, float]
"""``(x0, y0, x1, y1)`` in pixels of the picture, y down, x1 >= x0 and y1 >= y0."""

RGB = tuple[int, int, int]


class TextBlock(BaseModel):
    """One line of text (or one word, before grouping) on a picture."""

    model_config = ConfigDict(frozen=True)

    text: str
    box: Box
    color: RGB | None = None
    """The text's colour as drawn (estimated from pixels); None when it could not be told apart."""
    role: str | None = None
    """What the source knows the text is (``h1``, ``button``, ``title``, ``xtick``...); None from OCR."""

    @model_validator(mode="after")
    def _ordered(self) -> TextBlock:
        x0, y0, x1, y1 = self.box
        if not (x1 >= x0 and y1 >= y0) or not all(math.isfinite(v) for v in self.box):
            raise ValueError(f"box must be (x0, y0, x1, y1) with x1 >= x0 and y1 >= y0: {self.box}")
        return self

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)


def union_box(boxes: Iterable[Box]) -> Box:
    """The smallest box holding all ``boxes`` (at least one)."""
    items = list(boxes)
    if not items:
        raise ValueError("union of no boxes")
    return (
        min(b[0] for b in items),
        min(b[1] for b in items),
        max(b[2] for b in items),
        max(b[3] for b in items),
    )


def shifted(box: Box, dx: float, dy: float) -> Box:
    """``box`` moved by ``dx``, ``dy`` pixels."""
    return (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)


def vertical_overlap(a: Box, b: Box) -> float:
    """How many pixels the vertical extents of two boxes share (0 if none)."""
    return max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def intersection_area(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * vertical_overlap(a, b)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 for boxes without area)."""
    inter = intersection_area(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
