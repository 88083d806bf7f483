"""The model's pixel budget and Qwen2.5-VL's ``smart_resize``, reproduced exactly.

Qwen2.5-VL cuts an image into 14x14 patches and merges 2x2 of them into one token, so each side must be a
multiple of 28 and the token count is ``(h / 28) * (w / 28)``. The serving processor resizes every image
with ``smart_resize`` before the vision tower sees it. We resize on our side with the very same rule, so
the size we send is a fixed point of the server's resize (it does nothing more to the pixels) and we know
the token cost of an image before sending it.
"""

from __future__ import annotations

import math

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Qwen2.5-VL's ``preprocessor_config.json``: min 4 tokens, max 16384 tokens of 28x28 pixels each.
DEFAULT_MIN_PIXELS = 4 * 28 * 28
DEFAULT_MAX_PIXELS = 16384 * 28 * 28


class PixelBudget(BaseModel):
    """How many pixels one image may use, in the terms of Qwen2.5-VL's image processor.

    The defaults are the processor's own (``min_pixels`` 3136, ``max_pixels`` 12845056, factor 28 =
    patch 14 x merge 2, aspect ratio at most 200). A server started with other ``min_pixels`` or
    ``max_pixels`` needs the same values here, or the server resizes our images a second time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_pixels: int = Field(DEFAULT_MIN_PIXELS, ge=1, description="Smaller images are scaled up.")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1, description="Larger images are scaled down.")
    factor: int = Field(28, ge=1, description="Both sides become multiples of this (patch x merge).")
    max_aspect_ratio: float = Field(200.0, gt=1, description="Longer side / shorter side, at most.")

    @model_validator(mode="after")
    def _check_order(self) -> PixelBudget:
        # The resize can only meet both bounds when there is room for at least one factor x factor cell.
        if self.max_pixels < self.min_pixels:
            raise ValueError(f"max_pixels ({self.max_pixels}) is below min_pixels ({self.min_pixels})")
        if self.max_pixels < self.factor * self.factor:
            raise ValueError(f"max_pixels ({self.max_pixels}) is below one {self.factor}x{self.factor} cell")
        return self

    def tokens(self, height: int, width: int) -> int:
        """Visual tokens of an image already sized by :func:`smart_resize` (one per factor x factor cell)."""
        return (height // self.factor) * (width // self.factor)


DEFAULT_BUDGET = PixelBudget()


class AspectRatioError(ValueError):
    """The image is longer than ``max_aspect_ratio`` times its width (or the reverse): Qwen refuses it."""


def smart_resize(height: int, width: int, budget: PixelBudget = DEFAULT_BUDGET) -> tuple[int, int]:
    """The ``(height, width)`` Qwen2.5-VL resizes a ``height`` x ``width`` image to.

    The same arithmetic, rounding included, as ``smart_resize`` in transformers' Qwen2-VL image
    processor (checked against transformers 5.19, which vLLM serves the model with), because any
    difference means the server resizes a second time: round each side to the nearest multiple of
    ``factor`` (Python's ``round``, half to even); when that exceeds ``max_pixels``, scale both sides by
    ``sqrt(max_pixels / (h * w))`` and round down to multiples of ``factor`` (at least one ``factor``);
    when it is below ``min_pixels``, scale up by ``sqrt(min_pixels / (h * w))`` and round up. The result
    keeps the aspect ratio as closely as the grid allows.

    ``qwen_vl_utils`` (Qwen's own helper) clamps the first rounding to at least one ``factor``; that only
    matters for a side under 15 px (10x1000 becomes 28x560 here, 28x1008 there), and both sizes are
    within the budget, so either function leaves them alone.

    Raises :class:`AspectRatioError` past ``max_aspect_ratio`` (Qwen raises there too), and
    ``ValueError`` for a side that is not positive.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image sides must be positive, got {height}x{width} (height x width)")
    ratio = max(height, width) / min(height, width)
    if ratio > budget.max_aspect_ratio:
        raise AspectRatioError(
            f"aspect ratio {ratio:.1f} of a {width}x{height} image is above the model's limit of "
            f"{budget.max_aspect_ratio:g}"
        )
    factor = budget.factor
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > budget.max_pixels:
        beta = math.sqrt((height * width) / budget.max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < budget.min_pixels:
        beta = math.sqrt(budget.min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def resize_scale(height: int, width: int, budget: PixelBudget = DEFAULT_BUDGET) -> float:
    """Linear scale :func:`smart_resize` applies (below 1 shrinks): how much smaller text becomes."""
    h_bar, w_bar = smart_resize(height, width, budget)
    return math.sqrt((h_bar * w_bar) / (height * width))


def is_stable(height: int, width: int, budget: PixelBudget = DEFAULT_BUDGET) -> bool:
    """Whether :func:`smart_resize` leaves a ``height`` x ``width`` image as it is (a fixed point)."""
    try:
        return smart_resize(height, width, budget) == (height, width)
    except AspectRatioError:
        return False


def resize_to_budget(image: Image.Image, budget: PixelBudget = DEFAULT_BUDGET) -> Image.Image:
    """``image`` resized to its :func:`smart_resize` size, bicubic as Qwen2.5-VL's processor resamples.

    Returns ``image`` itself when it already has that size, so a second normalisation costs nothing. Also
    when that size is not stable, which is rare: Qwen's rounding can push an image just inside the aspect
    ratio limit past it (96x19124, ratio 199, becomes 84x19124, ratio 228), or, with a tiny
    ``max_pixels``, leave a thin image above it. Sent at that size the server would refuse the image or
    resize it again; sent unresized, the server makes this very resize itself, once.
    """
    height, width = smart_resize(image.height, image.width, budget)
    if (width, height) == image.size or not is_stable(height, width, budget):
        return image
    return image.resize((width, height), Image.Resampling.BICUBIC)
