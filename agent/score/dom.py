"""Text blocks of an HTML candidate from its DOM, as the sandbox laid it out (``render_html_blocks``).

The DOM knows the exact text (no OCR errors) and which words exist; the pixels know where the ink is
and what colour it shows. The words are therefore measured on the render's own PNG and grouped into
lines by the same rule as the target's OCR words, so both sides are blocks of the same kind.
"""

from __future__ import annotations

from collections.abc import Sequence

from viscodex.sandbox.results import DomBlock, HtmlRender

from .blocks import TextBlock
from .ocr import ocr_blocks
from .raster import RgbArray, load_rgb
from .words import blocks_from_words


def dom_words(blocks: Sequence[DomBlock]) -> list[TextBlock]:
    """The words of the sandbox's DOM blocks, each tagged with its block element's tag as ``role``."""
    words: list[TextBlock] = []
    for block in blocks:
        if not block.words:  # an older or trimmed reply: the block is the finest unit we have
            words.append(TextBlock(text=block.text, box=block.box, color=block.color, role=block.tag))
            continue
        for word in block.words:
            words.append(TextBlock(text=word.text, box=word.box, color=word.color, role=block.tag or None))
    return words


def dom_blocks(render: HtmlRender, rgb: RgbArray | None = None) -> list[TextBlock]:
    """Comparable text lines of a rendered page: DOM words measured on ``render.png`` and grouped.

    If the sandbox could not collect the DOM's text (``render.error``), the render is read by OCR
    instead, like the target: less exact, but the score stays meaningful.
    """
    if render.error is not None and not render.blocks:
        return list(ocr_blocks(render.png))
    pixels = load_rgb(render.png) if rgb is None else rgb
    return blocks_from_words(dom_words(render.blocks), pixels)
