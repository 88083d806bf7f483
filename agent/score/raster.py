"""Decoding pictures into the one pixel layout every measurement here uses: RGB, uint8, white under
transparency (as a browser or vLLM would show it), with a cap on size so a hostile PNG cannot exhaust
memory."""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image

RgbArray = npt.NDArray[np.uint8]
MAX_PIXELS = 40_000_000


V = TypeVar("V")


class PictureCache(Generic[V]):
    """Values computed from a picture array, kept by the array's identity and an extra key (a size, a
    side), for the pictures every candidate of a run shares (the target's pixels) or that one score
    measures many times (a render's colour bins). The array is kept beside its value, so a new array that
    reuses a freed one's ``id`` never hits; with ``read_only`` only arrays that cannot have changed since
    are kept. At most ``size`` entries (then it starts over)."""

    def __init__(self, size: int, *, read_only: bool = False) -> None:
        self.size = size
        self.read_only = read_only
        self._entries: dict[tuple[int, Hashable], tuple[RgbArray, V]] = {}

    def get(self, rgb: RgbArray, make: Callable[[], V], key: Hashable = None) -> V:
        hit = self._entries.get((id(rgb), key))
        if hit is not None and hit[0] is rgb:
            return hit[1]
        value = make()
        if rgb.flags.writeable and self.read_only:
            return value
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[(id(rgb), key)] = (rgb, value)
        return value


class ImageDecodeError(ValueError):
    """The bytes are not a picture we can measure (not an image, or absurdly large)."""


_RECENT: list[tuple[bytes, RgbArray]] = []
"""The last pictures decoded, by the bytes object itself: a page's render is decoded for its DOM words
(``dom_blocks``) and again by ``score_ui``, the same ``render.png`` both times."""
_RECENT_LOCK = threading.Lock()


def load_rgb(data: bytes) -> RgbArray:
    """An ``(height, width, 3)`` uint8 array of a PNG/JPEG/WebP, transparency composited on white.
    Read-only (as numpy's view of a Pillow image always was); the same array for the same bytes object
    while it is among the last two decoded."""
    with _RECENT_LOCK:
        for seen, rgb in _RECENT:
            if seen is data:
                return rgb
    rgb = _decode(data)
    rgb.flags.writeable = False
    with _RECENT_LOCK:
        _RECENT.insert(0, (data, rgb))
        del _RECENT[2:]
    return rgb


def _decode(data: bytes) -> RgbArray:
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
        if rgba.getchannel("A").getextrema() == (255, 255):
            image = rgba  # opaque everywhere (a chart's figure): white underneath changes no pixel
        else:
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
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize(size, resample), dtype=np.uint8)
