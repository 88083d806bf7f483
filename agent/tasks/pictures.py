"""What a picture must be for a solve run, and how it goes to the model: the one place that decides.

A picture reaches the agent from the CLI (``viscodex-agent solve IMAGE``) or, later, the language server,
and may be any size from 1x1 to 100 megapixels, any shape, any mode Pillow opens. :func:`check_picture`
is the input check both run before any model or sandbox is started: it returns the decoded picture or
raises :class:`ImageInputError` with one line saying what is wrong and what to do (CLI exit 2, LSP
``InvalidParams``). Whatever passes it, the run can handle:

- **the model** gets every picture (targets, and renders sent back as feedback) through
  :func:`pictures_for_model`: whole when one image will do, else cut into strips by
  :func:`~viscodex.model.image_tiling.tile_image` (a tall screenshot for legibility, a 60000x20 banner
  because Qwen2.5-VL takes at most 200:1 per image). A picture no strips can carry is refused.
- **the visual tasks** (``ui``, ``chart``) render the candidate at the picture's size and score the two;
  :func:`target_size` says that size: at least ``MIN_SIDE`` (the sandbox's smallest viewport: a 1x1
  picture is scaled up to 16x16), at most ``MAX_SIDE`` (larger ones are scaled down), the shape kept. A
  visual target may be at most ``MAX_TARGET_ASPECT`` to one, because its candidate's render goes back
  to the model whole, next to the target.
"""

from __future__ import annotations

from collections.abc import Sequence

from viscodex.model.images import (
    DEFAULT_BUDGET,
    DecodedImage,
    ImageInputError,
    ImageSource,
    PixelBudget,
    decode_image,
    load_image,
    plan_tiles,
    tile_image,
)

MIN_SIDE = 16
"""The smallest side the sandbox renders (``Viewport``'s minimum): smaller targets are scaled up to it."""
MAX_SIDE = 8192
"""The largest side a target is rendered at (``Viewport``'s widest): larger ones are scaled down."""
MAX_TARGET_ASPECT = DEFAULT_BUDGET.max_aspect_ratio
"""Longer side / shorter side of a ``ui`` or ``chart`` picture, at most (the model's per-image limit)."""

VISUAL_KINDS = ("ui", "chart")


def model_budget(max_image_tokens: int) -> PixelBudget:
    """The pixel budget of one image sent to the model, from the request's ``max_image_tokens``."""
    return PixelBudget(max_pixels=max_image_tokens * 28 * 28)


def target_size(width: int, height: int, kind: str = "ui") -> tuple[int, int]:
    """``(width, height)`` a ``width`` x ``height`` target is rendered and scored at, or ImageInputError.

    The picture's own size when it is within ``MIN_SIDE``..``MAX_SIDE``; else scaled, keeping its shape,
    until it is. Within ``MAX_TARGET_ASPECT`` both bounds can always be met (200 x 16 < 8192), and the
    rounded size stays within the ratio, so the render of a candidate can go to the model whole.
    """
    if width <= 0 or height <= 0:
        raise ImageInputError(f"the picture has no pixels ({width}x{height})")
    long_side, short_side = max(width, height), min(width, height)
    if long_side / short_side > MAX_TARGET_ASPECT:
        raise ImageInputError(
            f"a {width}x{height} picture is too elongated for a {kind} task (aspect ratio "
            f"{long_side / short_side:.0f}:1; its render is compared with it and sent to the model, which "
            f"takes at most {MAX_TARGET_ASPECT:g}:1): crop it into parts and solve each, or use --kind algorithm"
        )
    if long_side > MAX_SIDE:
        scale = MAX_SIDE / long_side
    elif short_side < MIN_SIDE:
        scale = MIN_SIDE / short_side
    else:
        return width, height

    def side(value: int) -> int:
        return min(MAX_SIDE, max(MIN_SIDE, round(value * scale)))

    return side(width), side(height)


def check_picture(
    source: ImageSource,
    kind: str = "auto",
    budget: PixelBudget = DEFAULT_BUDGET,
) -> DecodedImage:
    """The decoded picture when a run can use it for a ``kind`` task, else :class:`ImageInputError`.

    Decoding checks the file (format, size, corruption); the model must be able to take it, whole or in
    strips (:func:`~viscodex.model.image_tiling.plan_tiles` with ``budget``); a ``ui`` or ``chart``
    picture must have a :func:`target_size`. For ``auto`` the task is not known yet: a picture only the
    text tasks accept is refused once the task is picked.
    """
    decoded = decode_image(source)
    width, height = decoded.image.size
    plan_tiles(width, height, budget)
    if kind in VISUAL_KINDS:
        target_size(width, height, kind)
    return decoded


def pictures_for_model(
    pictures: Sequence[ImageSource], budget: PixelBudget, names: Sequence[str] | None = None
) -> tuple[tuple[ImageSource, ...], list[str]]:
    """The pictures as the model should get them, and a note for each one that was cut into strips.

    A picture that fits one image goes as it is (the model client normalises it); one that does not (a
    very tall screenshot, whose text would be illegible shrunk whole, or one beyond the model's aspect
    ratio) goes as its strips, in reading order. ``names`` name the pictures in the notes (default
    "picture 1", "picture 2", ...). Raises :class:`ImageInputError` for a picture no strips can carry.
    """
    labels = list(names) if names is not None else [f"picture {n}" for n in range(1, len(pictures) + 1)]
    images: list[ImageSource] = []
    notes = []
    for label, picture in zip(labels, pictures, strict=True):
        tiles = tile_image(load_image(picture), budget)
        if len(tiles) == 1:
            images.append(picture)
            continue
        images.extend(tile.image for tile in tiles)
        vertical = tiles[0].box[0] == tiles[1].box[0]
        order = "top to bottom" if vertical else "left to right"
        notes.append(f"{label} is cut into {len(tiles)} overlapping strips, {order}")
    return tuple(images), notes


def cut_note(notes: Sequence[str]) -> str:
    """The sentence appended to a prompt when pictures were cut, or nothing."""
    return f"\n\n(Note: {'; '.join(notes)}.)" if notes else ""


__all__ = [
    "MAX_SIDE",
    "MAX_TARGET_ASPECT",
    "MIN_SIDE",
    "VISUAL_KINDS",
    "check_picture",
    "cut_note",
    "model_budget",
    "pictures_for_model",
    "target_size",
]
