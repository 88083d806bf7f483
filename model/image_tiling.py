"""Split a tall (or wide) screenshot into strips so its text stays legible within the pixel budget.

A full-page screenshot 1440 wide and 9000 tall, sent whole within a budget of 1280 tokens, is shrunk to
about a quarter of its size, and 14 px text becomes 4 px: unreadable. Cut into four overlapping strips,
each strip is shrunk far less, at the cost of four times the tokens.

The rule (see :func:`plan_tiles`): keep the image whole when :func:`smart_resize` would scale it by at
least ``min_scale`` (and its aspect ratio is allowed); otherwise cut it along its longer side into the
fewest equal strips, overlapping by ``overlap`` pixels, that each scale by at least ``min_scale``, but
never more than ``max_tiles`` strips (then each strip is shrunk below ``min_scale``, still as little as
``max_tiles`` allows). A strip count is skipped when its strips would break the budget's aspect ratio,
or when their model size is not stable (the server would resize them again).

A picture so elongated that even ``max_tiles`` strips break the aspect ratio limit (a 60000x20 banner,
ratio 3000, needs 16 strips of at most 200:1) gets the fewest strips, up to ``max_strips``, that keep
it, provided they cost no more tokens than ``max_tiles`` full-budget images (thin strips are cheap: 16
strips of 3810x20 cost 136 tokens each). Beyond that (a 1x70000 line would need 350 strips) the
picture is refused with :class:`ImageInputError`: crop it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from .image_errors import ImageInputError
from .image_modes import to_rgb
from .pixel_budget import (
    DEFAULT_BUDGET,
    PixelBudget,
    is_stable,
    resize_scale,
    resize_to_budget,
    smart_resize,
)

#: Below half size, 12-14 px UI text falls under the ~7 px a 14 px vision patch can still read.
DEFAULT_MIN_SCALE = 0.5
DEFAULT_MAX_TILES = 8
#: The most strips a picture too elongated for ``max_tiles`` strips may be cut into (about 6000:1).
DEFAULT_MAX_STRIPS = 32
#: Source pixels two neighbouring strips share, so a line of text cut by one edge is whole in the other.
DEFAULT_OVERLAP = 64

Box = tuple[int, int, int, int]
"""``(left, top, right, bottom)`` in source pixels, as ``Image.crop`` takes it."""


@dataclass(frozen=True)
class ImageTile:
    """One strip of a source image, resized to the budget and ready for :func:`to_data_url`."""

    image: Image.Image
    box: Box
    """Where the strip is in the source image."""
    index: int
    count: int
    scale: float
    """Linear scale from the source strip to what the model sees (below 1 means shrunk)."""


def _strips(length: int, count: int, overlap: int) -> list[tuple[int, int]]:
    """``count`` equal ``(start, end)`` spans covering ``0..length``, neighbours sharing ``overlap``."""
    if count == 1:
        return [(0, length)]
    overlap = min(overlap, math.ceil(length / count) // 4)  # never let overlap dominate a short strip
    span = math.ceil((length + (count - 1) * overlap) / count)
    step = span - overlap
    spans = []
    for i in range(count):
        start = min(i * step, length - span)
        spans.append((start, start + span))
    return spans


def plan_tiles(
    width: int,
    height: int,
    budget: PixelBudget = DEFAULT_BUDGET,
    *,
    max_tiles: int = DEFAULT_MAX_TILES,
    min_scale: float = DEFAULT_MIN_SCALE,
    overlap: int = DEFAULT_OVERLAP,
    max_strips: int = DEFAULT_MAX_STRIPS,
) -> list[Box]:
    """The crop boxes :func:`tile_image` cuts a ``width`` x ``height`` image into (the module's rule).

    Pure arithmetic, so the rule is testable without pixels. Raises :class:`ImageInputError` when no
    count up to ``max_strips`` gives acceptable strips within the token cap (a 1 px wide, 100000 px
    long line, say).
    """
    if max_tiles < 1:
        raise ValueError(f"max_tiles must be at least 1, got {max_tiles}")
    if width <= 0 or height <= 0:
        raise ImageInputError(f"image has no pixels ({width}x{height})")
    vertical = height >= width
    long_side, short_side = (height, width) if vertical else (width, height)
    token_cap = max_tiles * (budget.max_pixels // (budget.factor * budget.factor))
    best: list[tuple[int, int]] | None = None
    too_costly = False
    for count in range(1, max(max_tiles, max_strips) + 1):
        if count > max_tiles and best is not None:
            break
        spans = _strips(long_side, count, overlap)
        span = spans[0][1] - spans[0][0]
        tile_height, tile_width = (span, short_side) if vertical else (short_side, span)
        if max(span, short_side) / min(span, short_side) > budget.max_aspect_ratio:
            continue
        model_size = smart_resize(tile_height, tile_width, budget)
        if not is_stable(*model_size, budget):
            continue  # the server would refuse or resize a strip of that size again
        if count > max_tiles and count * budget.tokens(*model_size) > token_cap:
            too_costly = True  # only thin strips may go past max_tiles: never more tokens than max_tiles images
            continue
        best = spans
        if count > max_tiles or resize_scale(tile_height, tile_width, budget) >= min_scale:
            break
    if best is None:
        why = (
            f"strips the model accepts would cost more than {token_cap:,} visual tokens"
            if too_costly
            else f"even {max(max_tiles, max_strips)} strips would each be beyond the model's limit of "
            f"{budget.max_aspect_ratio:g}:1"
        )
        raise ImageInputError(
            f"a {width}x{height} picture is too elongated (aspect ratio {long_side / short_side:.0f}:1): {why}; "
            "crop it into shorter parts"
        )
    if vertical:
        return [(0, start, width, end) for start, end in best]
    return [(start, 0, end, height) for start, end in best]


def tile_image(
    image: Image.Image,
    budget: PixelBudget = DEFAULT_BUDGET,
    max_tiles: int = DEFAULT_MAX_TILES,
    *,
    min_scale: float = DEFAULT_MIN_SCALE,
    overlap: int = DEFAULT_OVERLAP,
    max_strips: int = DEFAULT_MAX_STRIPS,
) -> list[ImageTile]:
    """``image`` as one or more strips, each converted to RGB and resized within ``budget``.

    Pass an image from ``load_image`` (already RGB and upright); any other mode is converted here. One
    tile, the whole image, is the common case. The tiles are in reading order (top to bottom, or left
    to right for a wide image), and a caller sends them as consecutive images of one message.
    """
    rgb = image if image.mode == "RGB" else to_rgb(image)[0]
    boxes = plan_tiles(
        rgb.width, rgb.height, budget, max_tiles=max_tiles, min_scale=min_scale, overlap=overlap, max_strips=max_strips
    )
    tiles = []
    for index, box in enumerate(boxes):
        strip = rgb if len(boxes) == 1 else rgb.crop(box)
        scale = resize_scale(strip.height, strip.width, budget)
        tiles.append(ImageTile(resize_to_budget(strip, budget), box, index, len(boxes), scale))
    return tiles
