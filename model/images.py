"""The model client's image input: any picture a user gives us, checked, upright, RGB, sized for Qwen2.5-VL.

A picture arrives as a path, bytes, a Pillow image or a ``data:`` URL, and may be anything: empty, cut
off, not an image, a 30000x30000 decompression bomb, an animated GIF, CMYK, 16-bit, rotated by EXIF.
Everything here either returns the image the model should see or raises :class:`ImageInputError`
saying what is wrong, so neither the server (HTTP 400 on a bad image) nor the user is left guessing.

The pipeline, each step a pure function of its input:

1. :func:`decode_image`: read the bytes (within ``max_bytes``), identify the format from the header
   (only ``allowed_formats``; Pillow's other parsers never see user input), refuse more than
   ``max_pixels`` *before* decoding, decode the first frame, apply the EXIF orientation, convert to RGB
   (:func:`viscodex.model.image_modes.to_rgb`).
2. :func:`normalize_image`: resize to Qwen2.5-VL's ``smart_resize`` size for the :class:`PixelBudget`;
   :func:`tile_image` instead cuts a tall screenshot into strips when one image would be illegible.
3. :func:`to_data_url`: encode losslessly as the API's ``data:image/png;base64,...``.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .data_url import is_data_url, make_data_url, parse_data_url
from .image_errors import ImageInputError
from .image_modes import to_rgb
from .image_tiling import ImageTile, plan_tiles, tile_image
from .pixel_budget import (
    DEFAULT_BUDGET,
    AspectRatioError,
    PixelBudget,
    resize_scale,
    resize_to_budget,
    smart_resize,
)

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_LIMITS",
    "DecodedImage",
    "ImageInputError",
    "ImageLimits",
    "ImageSource",
    "ImageTile",
    "NormalizedImage",
    "PixelBudget",
    "decode_image",
    "load_image",
    "normalize_image",
    "plan_tiles",
    "resize_scale",
    "smart_resize",
    "tile_image",
    "to_data_url",
]

ImageSource = str | os.PathLike[str] | bytes | bytearray | Image.Image
"""A path (``str`` or ``Path``), encoded image bytes, a Pillow image, or a base64 ``data:image/...`` URL."""

# Exceptions Pillow's decoders raise for malformed data (zlib.error and struct.error come from parsers
# that read chunk headers and compressed metadata directly).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
_EXIF_ERRORS = (*_DECODE_ERRORS, KeyError, TypeError, AttributeError)
_EXIF_ORIENTATION = 0x0112

# Format names Pillow reports that are another accepted format in a different container.
_FORMAT_ALIASES = {"MPO": "JPEG", "DIB": "BMP"}
_MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}

# Signatures of formats we might be handed but do not accept, to say *what* a refused file is.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (8, b"WEBP", "WEBP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"%PDF", "PDF"),
    (0, b"8BPS", "PSD"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"qoif", "QOI"),
    (0, b"\xff\x0a", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (4, b"ftypavif", "AVIF"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
)
_DEFAULT_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP"})
_URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class ImageLimits(BaseModel):
    """What an input image may be, checked before any pixel is decoded.

    ``max_pixels`` guards memory: decoding costs 4 bytes a pixel or more, and a few kilobytes of PNG can
    declare 30000x30000 (3.6 GB). 100 megapixels admits any screen (8K is 33 MP) and a full-page
    screenshot 2560 wide and 39000 tall. Pillow has its own process-wide guard, which we leave alone: it
    warns (``DecompressionBombWarning``) above about 89 MP and refuses above about 179 MP whatever this
    says; both refusals come out as the same :class:`ImageInputError`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_formats: frozenset[str] = Field(
        _DEFAULT_FORMATS,
        description="Pillow format names accepted; only these parsers ever see the input.",
    )
    max_pixels: int = Field(100_000_000, ge=1, description="Width x height of the stored image, at most.")
    max_bytes: int = Field(256 << 20, ge=1, description="Encoded size, at most (BMP is uncompressed).")

    @field_validator("allowed_formats")
    @classmethod
    def _known_formats(cls, value: frozenset[str]) -> frozenset[str]:
        # Pillow registers its format plugins on first use; init() loads them all. The defaults pass even
        # where this Pillow lacks one (WEBP without libwebp): such a format is then simply never matched.
        Image.init()
        formats = frozenset(name.upper() for name in value)
        unknown = formats - set(Image.OPEN) - _DEFAULT_FORMATS
        if unknown:
            raise ValueError(f"unknown image formats: {', '.join(sorted(unknown))}")
        return formats


DEFAULT_LIMITS = ImageLimits()


@dataclass(frozen=True)
class DecodedImage:
    """A decoded input image: upright RGB, full size, with what was done to it on the way."""

    image: Image.Image
    format: str | None
    """Pillow's name of the encoded format (``JPEG`` for MPO), ``None`` for a Pillow image given as such."""
    notes: tuple[str, ...]
    """Human-readable remarks (first frame of an animation taken, alpha composited, EXIF rotation...)."""


@dataclass(frozen=True)
class NormalizedImage:
    """An image ready for the model: RGB, sized by ``smart_resize`` for the budget it was made for.

    Except in the rare case :func:`~viscodex.model.pixel_budget.resize_to_budget` describes, where it
    keeps its size and the server resizes it to the same size; ``tokens`` is right either way.
    """

    image: Image.Image
    original_width: int
    """Width after EXIF orientation, before resizing: the picture as the user sees it."""
    original_height: int
    format: str | None
    notes: tuple[str, ...]
    tokens: int
    """Visual tokens the model spends on it: one per 28x28 pixels."""

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    def to_data_url(self, format: str = "PNG") -> str:
        """The image as a ``data:`` URL for the chat API; see :func:`to_data_url`."""
        return to_data_url(self.image, format)


def decode_image(source: ImageSource, limits: ImageLimits = DEFAULT_LIMITS) -> DecodedImage:
    """Check and decode ``source`` into an upright RGB image, or raise :class:`ImageInputError`.

    Only the first frame of an animation is used (noted). A Pillow image given directly is not
    modified; its format is not checked (it is already decoded) but its size is.
    """
    if isinstance(source, Image.Image):
        return _from_pillow(source, limits)
    if isinstance(source, bytes | bytearray):
        return _from_bytes(bytes(source), limits, "the image data")
    if isinstance(source, str) and is_data_url(source):
        mime, data = parse_data_url(source, limits.max_bytes)
        decoded = _from_bytes(data, limits, "the data URL")
        declared = mime.removeprefix("image/").upper().replace("JPG", "JPEG")
        if decoded.format is not None and declared != decoded.format:
            note = f"data URL says {mime} but holds a {decoded.format} image"
            decoded = DecodedImage(decoded.image, decoded.format, (*decoded.notes, note))
        return decoded
    if isinstance(source, str | os.PathLike):
        return _from_bytes(_read_file(os.fspath(source), limits), limits, f"file {os.fspath(source)!r}")
    raise TypeError(f"an image source is a path, bytes, a PIL image or a data URL, not {type(source)!r}")


def load_image(source: ImageSource, limits: ImageLimits = DEFAULT_LIMITS) -> Image.Image:
    """The upright RGB image of ``source`` (:func:`decode_image` without the notes)."""
    return decode_image(source, limits).image


def normalize_image(
    source: ImageSource | DecodedImage,
    budget: PixelBudget = DEFAULT_BUDGET,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> NormalizedImage:
    """``source`` decoded and resized to ``smart_resize``'s size, the image the model will see.

    Sent at exactly this size, the server's own ``smart_resize`` leaves it alone (the size is its fixed
    point), and ``tokens`` is what it costs. (In the rare case ``resize_to_budget`` describes, the image
    keeps its size and the server resizes it, noted.) An image beyond the budget's aspect ratio raises
    :class:`ImageInputError`: cut it with :func:`tile_image` instead.
    """
    decoded = source if isinstance(source, DecodedImage) else decode_image(source, limits)
    image = decoded.image
    try:
        height, width = smart_resize(image.height, image.width, budget)
    except AspectRatioError as exc:
        raise ImageInputError(f"{exc}; cut it into strips with tile_image() or crop it") from None
    resized = resize_to_budget(image, budget)
    notes = list(decoded.notes)
    if resized.size != image.size:
        notes.append(f"resized from {image.width}x{image.height} to {width}x{height}")
    elif (width, height) != image.size:
        notes.append(
            f"kept at {image.width}x{image.height}: its model size {width}x{height} is not stable under "
            "smart_resize, so the server resizes it"
        )
    return NormalizedImage(
        image=resized,
        original_width=image.width,
        original_height=image.height,
        format=decoded.format,
        notes=tuple(notes),
        tokens=budget.tokens(height, width),
    )


def to_data_url(image: Image.Image, format: str = "PNG", *, compress_level: int = 1) -> str:
    """``image`` encoded as a base64 ``data:`` URL, the way the chat API takes images.

    PNG by default: lossless, so the model sees exactly the normalised pixels. ``compress_level`` 1
    because it encodes faster than Pillow's default 6 for a few more bytes, and the request goes to a
    local server: encoding time is what the user waits for. ``JPEG`` (quality
    95) or ``WEBP`` (lossless) are there for callers that need smaller requests.
    """
    fmt = format.upper().replace("JPG", "JPEG")
    if fmt not in ("PNG", "JPEG", "WEBP"):
        raise ValueError(f"to_data_url encodes PNG, JPEG or WEBP, not {format!r}")
    rgb = image if image.mode == "RGB" else to_rgb(image)[0]
    buffer = io.BytesIO()
    if fmt == "PNG":
        rgb.save(buffer, "PNG", compress_level=compress_level)
    elif fmt == "JPEG":
        rgb.save(buffer, "JPEG", quality=95)
    else:
        rgb.save(buffer, "WEBP", lossless=True)
    return make_data_url(_MIME_TYPES[fmt], buffer.getvalue())


def _read_file(path: str, limits: ImageLimits) -> bytes:
    """The bytes of the regular file at ``path``, within ``max_bytes``, with errors a user can act on.

    Only regular files: reading a FIFO or ``/dev/zero`` would block or never end.
    """
    if not path:
        raise ImageInputError("the image path is empty")
    if _URL_SCHEME.match(path):
        raise ImageInputError(
            f"{path!r} is a URL; images are not fetched from the network: download it and pass the file"
        )
    try:
        with Path(path).expanduser().open("rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                kind = "a directory, not an image file" if stat.S_ISDIR(info.st_mode) else "not a regular file"
                raise ImageInputError(f"{path!r} is {kind}")
            data = handle.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise ImageInputError(f"no such image file: {path!r}") from None
    except IsADirectoryError:
        raise ImageInputError(f"{path!r} is a directory, not an image file") from None
    except OSError as exc:
        raise ImageInputError(f"cannot read image file {path!r}: {exc.strerror or exc}") from None
    if len(data) > limits.max_bytes:
        raise ImageInputError(f"file {path!r} has more than the limit of {limits.max_bytes:,} bytes")
    return data


def _sniff(data: bytes) -> str | None:
    """The format ``data`` looks like from its magic bytes, or ``None``."""
    for offset, magic, name in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return name
    head = data[:256].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) and b"<svg" in data[:4096].lower():
        return "SVG"
    return None


def _accepted(limits: ImageLimits) -> str:
    return ", ".join(sorted(limits.allowed_formats))


def _unidentified(data: bytes, limits: ImageLimits, what: str) -> ImageInputError:
    """The error for bytes no accepted format's parser recognised: say what they seem to be instead."""
    looks_like = _sniff(data)
    if looks_like is None:
        head = data[:16]
        kind = "text" if head.isascii() and all(32 <= b < 127 or b in b"\t\r\n" for b in head) else "data"
        return ImageInputError(f"{what} is not an image: unrecognised {kind} starting with {head!r}")
    if looks_like in limits.allowed_formats:
        return ImageInputError(f"{what} looks like {looks_like} but its header is corrupt or truncated")
    return ImageInputError(
        f"{what} is in {looks_like} format, which is not accepted (accepted: {_accepted(limits)}); convert it to PNG"
    )


def _too_large(width: int, height: int, limits: ImageLimits, what: str) -> ImageInputError:
    return ImageInputError(
        f"{what} is {width}x{height} = {width * height:,} pixels, more than the limit of "
        f"{limits.max_pixels:,} (refused before decoding, as a possible decompression bomb); "
        "scale it down or crop it"
    )


def _from_bytes(data: bytes, limits: ImageLimits, what: str) -> DecodedImage:
    """Decode encoded image bytes; every failure becomes an :class:`ImageInputError`."""
    if not data:
        raise ImageInputError(f"{what} is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageInputError(f"{what} has {len(data):,} bytes, more than the limit of {limits.max_bytes:,}")
    # Pillow tries only these parsers (a phone's JPEG may still come back as MPO, a JPEG container).
    Image.init()  # registers every plugin once; cheap afterwards
    formats = sorted(limits.allowed_formats & set(Image.OPEN))
    try:
        # Image.open only parses the header: the pixel data is decoded by load() below.
        image = Image.open(io.BytesIO(data), formats=formats)
    except Image.DecompressionBombError as exc:
        raise _bomb(str(exc), limits, what) from None
    except UnidentifiedImageError:
        raise _unidentified(data, limits, what) from None
    except _DECODE_ERRORS as exc:
        kind = _sniff(data) or "an image"
        raise ImageInputError(f"{what} looks like {kind} but its header is corrupt or truncated ({exc})") from None
    with image:
        fmt = _FORMAT_ALIASES.get(image.format or "", image.format)
        if fmt not in limits.allowed_formats:  # an aliased container of a refused format
            raise ImageInputError(f"{what} is in {fmt} format, which is not accepted (accepted: {_accepted(limits)})")
        _check_size(image.size, limits, what)
        notes = []
        if getattr(image, "is_animated", False):
            notes.append(f"{what} is animated ({fmt}); only its first frame is used")
        try:
            image.load()
        except Image.DecompressionBombError as exc:  # a frame larger than the header said
            raise _bomb(str(exc), limits, what) from None
        except _DECODE_ERRORS as exc:
            raise ImageInputError(f"{what} is truncated or corrupt ({fmt}: {exc})") from None
        return _finish(image, fmt, notes, owned=True)


def _check_size(size: tuple[int, int], limits: ImageLimits, what: str) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageInputError(f"{what} has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise _too_large(width, height, limits, what)


def _bomb(message: str, limits: ImageLimits, what: str) -> ImageInputError:
    """Pillow's decompression bomb error (it checks before we can), restated with our limit."""
    match = re.search(r"\((\d+) pixels\)", message)
    pixels = f"{int(match.group(1)):,} pixels" if match else "too many pixels"
    return ImageInputError(
        f"{what} has {pixels}, more than the limit of {limits.max_pixels:,} (refused before decoding, as a "
        "possible decompression bomb); scale it down or crop it"
    )


def _from_pillow(image: Image.Image, limits: ImageLimits) -> DecodedImage:
    """A caller's Pillow image, checked and converted without touching the caller's object."""
    what = "the PIL image"
    _check_size(image.size, limits, what)
    notes = []
    frame = image
    if getattr(image, "is_animated", False) and image.tell() != 0:
        current = image.tell()
        try:
            image.seek(0)
            image.load()
            frame = image.copy()
        except _DECODE_ERRORS as exc:
            raise ImageInputError(f"{what}: cannot read its first frame ({exc})") from None
        finally:
            image.seek(current)
    if getattr(image, "is_animated", False):
        notes.append(f"{what} is animated; only its first frame is used")
    try:
        frame.load()
    except _DECODE_ERRORS as exc:
        raise ImageInputError(f"{what} is truncated or corrupt ({exc})") from None
    fmt = _FORMAT_ALIASES.get(image.format or "", image.format)
    return _finish(frame, fmt, notes, owned=frame is not image)


def _finish(image: Image.Image, fmt: str | None, notes: list[str], *, owned: bool) -> DecodedImage:
    """EXIF orientation, then RGB: the steps shared by every kind of source.

    ``owned`` says ``image`` is ours (decoded here): it may be returned as it is. A caller's image is
    copied instead when nothing else made a new one, so later changes to either never reach the other.
    """
    upright = _exif_upright(image, notes)
    rgb, mode_notes = to_rgb(upright)
    if rgb is image and not owned:
        rgb = image.copy()
    return DecodedImage(rgb, fmt, (*notes, *mode_notes))


def _exif_upright(image: Image.Image, notes: list[str]) -> Image.Image:
    """``image`` turned as its EXIF orientation says (phones store photos sideways and set a tag).

    An unreadable EXIF block is noted and ignored: metadata is no reason to refuse a picture.
    """
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION)
        if orientation not in (2, 3, 4, 5, 6, 7, 8):
            return image
        upright = ImageOps.exif_transpose(image)
    except _EXIF_ERRORS as exc:
        notes.append(f"ignored unreadable EXIF metadata ({type(exc).__name__}: {exc})")
        return image
    notes.append(f"rotated/flipped upright by EXIF orientation {orientation}")
    return upright
