"""Hypothesis strategies for pictures of every shape, mode and format: one generator for every entry point.

The image pipeline's tests (``model/images.py``, ``model/image_tiling.py``), ``solve``'s input checks and
the language server's ``viscodex/imageToCode`` all take pictures from a user; they draw them from here, so
each is fuzzed with the same widths and heights (1..70000, with the edges that matter: 1, 15/16/17 around
the smallest render, 27/28/29 around a model patch, 200:1 around the model's aspect limit, 8192 around
the largest render), every Pillow mode, every accepted format and aspect ratios from 1 to 70000.

Pixels cost memory, so what is *allocated* is capped (``max_pixels``, 1.5 megapixels by default, which
still allows 70000x20 or 20x70000): huge sizes are drawn as plain numbers (:func:`sizes` for the pure
arithmetic) or as PNG headers that only *claim* them (:func:`claimed_pngs`). Content is cheap (a flat
colour with a few marks), since what is under test is what a shape or a mode does, not the pictures.

Typical use::

    @given(picture=pictures())
    @FAST
    def test_anything_takes_any_picture(picture: Picture) -> None:
        ...picture.source (bytes or a Pillow image), picture.width, picture.height...
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image

MAX_SIDE = 70_000
"""The largest width or height drawn (the issue's range: 1..70000)."""
DEFAULT_MAX_PIXELS = 1_500_000
"""The most pixels a drawn picture allocates: 70000x20 fits, a 30000x30000 one is only ever claimed."""

EDGE_SIDES = (1, 2, 3, 15, 16, 17, 27, 28, 29, 55, 56, 57, 199, 200, 201, 8191, 8192, 8193, 16384, 60000, MAX_SIDE)
"""Sides where a rule changes: the render minimum (16), the model's patch (28), the render maximum (8192)."""
EDGE_RATIOS = (1.0, 199.0, 200.0, 201.0, 512.0, 513.0, 3000.0, 6000.0, 6400.0, 70000.0)
"""Aspect ratios where a rule changes: the model's 200:1, strips needed past 8 and 32 of them."""

#: The modes each accepted format can store (what Pillow writes, so what a user's file can be in).
FORMAT_MODES: dict[str, tuple[str, ...]] = {
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"),
    "JPEG": ("L", "RGB", "CMYK"),
    "WEBP": ("RGB", "RGBA"),
    "GIF": ("P", "L"),
    "BMP": ("1", "L", "P", "RGB"),
}
#: The largest side each format can encode (WebP's limit is 16383; JPEG's 65500).
FORMAT_MAX_SIDE = {"PNG": MAX_SIDE, "JPEG": 65_500, "WEBP": 16_383, "GIF": 65_535, "BMP": MAX_SIDE}
#: Every mode a Pillow image handed to us directly may be in.
PILLOW_MODES = (
    "1",
    "L",
    "LA",
    "La",
    "P",
    "PA",
    "RGB",
    "RGBA",
    "RGBa",
    "RGBX",
    "CMYK",
    "YCbCr",
    "LAB",
    "HSV",
    "I",
    "I;16",
    "I;16L",
    "I;16B",
    "I;16N",
    "F",
)

FAST = settings(
    max_examples=40,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Settings for tests over real pixels: a few seconds each, no Docker, no model."""
PURE = settings(max_examples=400, deadline=None, database=None)
"""Settings for tests over plain sizes (arithmetic only): many more examples, still well under a second."""


@dataclass(frozen=True)
class Picture:
    """A drawn picture: its shape, mode and format, and the source to hand to the code under test."""

    width: int
    height: int
    mode: str
    format: str | None
    """The encoded format (``source`` is its bytes), or ``None`` when ``source`` is a Pillow image."""
    source: bytes | Image.Image = field(repr=False)

    @property
    def ratio(self) -> float:
        """Longer side / shorter side."""
        return max(self.width, self.height) / min(self.width, self.height)

    def write(self, folder: Path, stem: str = "picture") -> Path:
        """The picture as a file in ``folder`` (PNG for a Pillow image), for tests that take a path."""
        data = self.source if isinstance(self.source, bytes) else encode(to_storable(self.source), "PNG")
        suffix = {"JPEG": ".jpg"}.get(self.format or "PNG", f".{(self.format or 'PNG').lower()}")
        path = folder / f"{stem}{suffix}"
        path.write_bytes(data)
        return path


def _fit(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """``(width, height)`` with its shorter side cut until it has at most ``max_pixels`` pixels (the
    longer side, which makes the shape extreme, is kept unless it alone is over the limit)."""
    if width * height <= max_pixels:
        return width, height
    if width >= height:
        width = min(width, max_pixels)
        return width, max(1, max_pixels // width)
    height = min(height, max_pixels)
    return max(1, max_pixels // height), height


@st.composite
def sizes(draw: st.DrawFn, max_pixels: int | None = None, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """``(width, height)``, each in 1..``max_side``, and at most ``max_pixels`` pixels when given.

    Drawn three ways: both sides independently, by aspect ratio (a short side and a ratio, edge ratios
    included), and from the edge sides; either orientation.
    """
    side = st.integers(1, max_side)
    edge = st.sampled_from([s for s in EDGE_SIDES if s <= max_side])
    how = draw(st.sampled_from(("independent", "ratio", "edges")))
    if how == "independent":
        width, height = draw(side), draw(side)
    elif how == "ratio":
        short = draw(st.integers(1, 200) | edge)
        ratio = draw(st.sampled_from(EDGE_RATIOS) | st.floats(1.0, 5000.0))
        long = max(1, min(max_side, round(short * ratio)))
        width, height = (long, short) if draw(st.booleans()) else (short, long)
    else:
        width, height = draw(edge | side), draw(edge)
        if draw(st.booleans()):
            width, height = height, width
    if max_pixels is not None:
        width, height = _fit(width, height, max_pixels)
    return min(width, max_side), min(height, max_side)


def _content(mode: str, width: int, height: int, seed: int) -> Image.Image:
    """A flat picture in ``mode`` with a few marks (so it is not one colour), made without big buffers."""
    base = Image.new("RGBA", (width, height), (seed % 256, (seed * 7) % 256, (seed * 13) % 256, 255))
    marks = Image.new("RGBA", (max(1, width // 3), max(1, height // 3)), (255 - seed % 256, 40, 200, 128))
    base.paste(marks, (width // 3, height // 3))
    if mode == "RGBA":
        return base
    if mode.startswith("I;16"):  # 16-bit grey using its range: 0..255 stretched to 0..65535
        return base.convert("L").convert("I").point(lambda v: v * 257).convert(mode)
    if mode == "PA":
        return base.convert("P").convert("PA")
    if mode in ("La", "RGBa"):  # premultiplied alpha: Pillow converts to them only from LA / RGBA
        return base.convert(mode.upper()).convert(mode)
    if mode in ("LAB", "HSV"):
        return base.convert("RGB").convert(mode)
    return base.convert(mode)


def to_storable(image: Image.Image) -> Image.Image:
    """``image`` in a mode PNG stores (for writing a Pillow image of an exotic mode to a file)."""
    if image.mode in FORMAT_MODES["PNG"]:
        return image
    if image.mode in ("La", "RGBa"):  # premultiplied: Pillow converts them only to LA / RGBA
        return image.convert(image.mode.upper())
    if image.mode.startswith("I;16"):
        return image.convert("I").convert("I;16")
    if image.mode in ("I", "F"):
        return image.convert("L")
    return image.convert("RGBA" if "A" in image.mode else "RGB")


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    params: dict[str, object] = {"lossless": True} if fmt == "WEBP" else {}
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


@st.composite
def pictures(
    draw: st.DrawFn,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    formats: tuple[str, ...] = tuple(FORMAT_MODES),
    pillow: bool = True,
) -> Picture:
    """A picture of any drawn size (within ``max_pixels``), mode and format, as encoded bytes in one of
    ``formats`` or, with ``pillow``, as a Pillow image in any of :data:`PILLOW_MODES`."""
    fmt = draw(st.sampled_from([*formats, *([None] if pillow else [])]))
    max_side = FORMAT_MAX_SIDE[fmt] if fmt is not None else MAX_SIDE
    width, height = draw(sizes(max_pixels=max_pixels, max_side=max_side))
    mode = draw(st.sampled_from(FORMAT_MODES[fmt] if fmt is not None else PILLOW_MODES))
    image = _content(mode, width, height, draw(st.integers(0, 255)))
    source: bytes | Image.Image = image if fmt is None else encode(image, fmt)
    return Picture(width, height, mode, fmt, source)


def png_claiming(width: int, height: int, data: bytes = b"") -> bytes:
    """A well-formed PNG header claiming ``width`` x ``height`` 1-bit grey pixels, with ``data`` as its
    (usually far too short) compressed pixel data: what a decompression bomb or a cut file looks like."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b"")


@st.composite
def claimed_pngs(draw: st.DrawFn) -> tuple[int, int, bytes]:
    """``(width, height, png)``: a PNG that claims any size up to 70000x70000 but holds (almost) no pixel
    data. Nothing is allocated for it unless the code under test decodes it, which it must not do for
    more pixels than its limit."""
    width, height = draw(sizes())
    return width, height, png_claiming(width, height, b"\0" * draw(st.integers(0, 2048)))
