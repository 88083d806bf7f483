"""Decoding pictures into the one pixel layout every measurement here uses: RGB, uint8, white under
transparency (as a browser or vLLM would show it), with a cap on size so a hostile PNG cannot exhaust
memory."""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
import numpy.typing as npt
from PIL import Image

RgbArray = npt.NDArray[np.uint8]
MAX_PIXELS = 40_000_000


class ImageDecodeError(ValueError):
    """The bytes are not a picture we can measure (not an image, or absurdly large)."""


def load_rgb(data: bytes) -> RgbArray:
    """An ``(height, width, 3)`` uint8 array of a PNG/JPEG/WebP, transparency composited on white."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise ImageDecodeError(f"picture too large to score: {image.width}x{image.height}")
            image.load()
    except ImageDecodeError:
        raise
    except (OSError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(f"not a picture: {exc}") from exc
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        image = canvas
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def image_key(data: bytes) -> str:
    """A content hash of the picture's bytes, for caches."""
    return hashlib.sha256(data).hexdigest()


def downscale(rgb: RgbArray, side: int, resample: Image.Resampling) -> RgbArray:
    """``rgb`` shrunk so its longer side is at most ``side`` pixels (unchanged if it already is)."""
    h, w = rgb.shape[:2]
    factor = side / max(h, w)
    if factor >= 1:
        return rgb
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(rgb).resize(size, resample), dtype=np.uint8)
