"""Whole-picture similarity, for what text blocks miss: layout of boxes and images, backgrounds, borders,
chart marks. Two cheap measures (milliseconds), averaged:

- SSIM (Wang et al. 2004) on greyscale copies scaled down to at most ``SIDE`` pixels: structure and
  layout, insensitive to tiny anti-aliasing differences;
- colour-histogram intersection (8 bins per RGB channel): the palette and how much of each colour.

Pictures of different sizes are first padded (with their own background colour) to a common canvas
rather than stretched: a page that is longer than the target has extra content, it is not squashed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from .raster import PictureCache, RgbArray, downscale

SIDE = 256
"""Longest side of the scaled-down copies SSIM is computed on."""
WINDOW = 7
"""SSIM's square window, in pixels of the scaled-down copies (scikit-image's default)."""
BINS = 8


@dataclass(frozen=True)
class Perceptual:
    ssim: float
    histogram: float

    @property
    def combined(self) -> float:
        return (self.ssim + self.histogram) / 2


def background_color(rgb: RgbArray) -> tuple[int, int, int]:
    """The most frequent colour on the picture's border."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int64)
    # One integer per colour, ordered as the (r, g, b) rows are: ties go to the same (smallest) colour
    # as ``np.unique(axis=0)`` gives them. Counted over the sorted keys directly (``np.unique``'s own
    # checks cost more than the counting on a word's few hundred border pixels, and this runs per word).
    keys = np.sort((border[:, 0] << 16) | (border[:, 1] << 8) | border[:, 2])
    if keys[0] == keys[-1]:
        c = int(keys[0])
    else:
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        counts = np.diff(np.append(starts, keys.size))
        c = int(keys[starts[int(np.argmax(counts))]])
    return (c >> 16, (c >> 8) & 255, c & 255)


def pad_to(rgb: RgbArray, width: int, height: int) -> RgbArray:
    """``rgb`` in the top-left corner of a ``width`` x ``height`` canvas of its background colour."""
    h, w = rgb.shape[:2]
    if (w, h) == (width, height):
        return rgb
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = background_color(rgb)
    canvas[:h, :w] = rgb
    return canvas


def _box_mean(x: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.float64]:
    s = np.zeros((x.shape[0] + 1, x.shape[1] + 1))
    s[1:, 1:] = x.cumsum(0).cumsum(1)
    return np.asarray((s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]) / (k * k))


def ssim(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], window: int = WINDOW) -> float:
    """Mean SSIM of two equally sized greyscale images (0..255), clipped to [0, 1]."""
    if a.shape != b.shape:
        raise ValueError(f"ssim needs equal shapes, got {a.shape} and {b.shape}")
    if np.array_equal(a, b):
        return 1.0
    k = min(window, *a.shape)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _box_mean(a, k), _box_mean(b, k)
    var_a = _box_mean(a * a, k) - mu_a**2
    var_b = _box_mean(b * b, k) - mu_b**2
    cov = _box_mean(a * b, k) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float(np.clip((num / den).mean(), 0.0, 1.0))


def histogram_similarity(a: RgbArray, b: RgbArray, bins: int = BINS) -> float:
    """Intersection of the normalised RGB histograms: 1 for the same colour distribution, 0 for none."""
    if np.array_equal(a, b):
        return 1.0
    step = 256 // bins

    def hist(rgb: RgbArray) -> npt.NDArray[np.float64]:
        q = (rgb.reshape(-1, 3) // step).astype(np.int64)
        idx = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
        h = np.bincount(idx, minlength=bins**3).astype(np.float64)
        return np.asarray(h / max(h.sum(), 1.0))

    return float(min(1.0, np.minimum(hist(a), hist(b)).sum()))


def perceptual_similarity(target: RgbArray, candidate: RgbArray, side: int = SIDE) -> Perceptual:
    """SSIM and histogram similarity of two pictures (padded to a common canvas, scaled down)."""
    if target.shape == candidate.shape and np.array_equal(target, candidate):
        return Perceptual(ssim=1.0, histogram=1.0)
    width = max(target.shape[1], candidate.shape[1])
    height = max(target.shape[0], candidate.shape[0])
    a, a_grey = _scaled(target, width, height, side)
    b, b_grey = _scaled(candidate, width, height, side)
    return Perceptual(ssim=ssim(a_grey, b_grey), histogram=histogram_similarity(a, b))


_GREY = np.array([0.299, 0.587, 0.114])
_SCALED: PictureCache[tuple[RgbArray, npt.NDArray[np.float64]]] = PictureCache(16, read_only=True)


def _scaled(rgb: RgbArray, width: int, height: int, side: int) -> tuple[RgbArray, npt.NDArray[np.float64]]:
    """``rgb`` padded to ``width`` x ``height``, scaled down, and its greyscale. Kept for a read-only
    picture (a target's pixels, decoded once and shared by every candidate scored against it), which
    cannot have changed since: the target is scaled once per run instead of once per candidate."""

    def make() -> tuple[RgbArray, npt.NDArray[np.float64]]:
        small = downscale(pad_to(rgb, width, height), side, Image.Resampling.BOX)
        return small, small.astype(np.float64) @ _GREY

    return _SCALED.get(rgb, make, (width, height, side))
