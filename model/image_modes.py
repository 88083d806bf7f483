"""Turn a decoded image of any Pillow mode into the 8-bit sRGB RGB image the model is shown.

Why each rule, since a plain ``image.convert("RGB")`` gets several cases wrong:

* Transparency is composited onto **white**. vLLM composites RGBA onto white, while Pillow's
  ``convert("RGB")`` drops alpha and reveals whatever colour the transparent pixels happen to hold
  (often black), so the two would see different pictures. We send opaque images, so both agree.
* 16-bit and 32-bit greyscale (``I;16``, ``I``, ``F``) are *scaled* to 0..255; Pillow's conversion
  clips them, which turns almost every 16-bit pixel white.
* An embedded ICC profile (CMYK print files, Display P3 screenshots from macOS) is converted to sRGB when
  Pillow has LittleCMS, because the agent compares the picture with pages rendered in sRGB. CMYK without a
  profile falls back to Pillow's naive formula.
"""

from __future__ import annotations

import io

from PIL import Image

from .image_errors import ImageInputError

WHITE = (255, 255, 255)
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ICC_MODES = frozenset({"RGB", "RGBA", "CMYK"})


def to_rgb(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """``image`` as mode RGB (a new image unless it already was plain RGB) and notes on what changed.

    Never modifies ``image``. Raises :class:`ImageInputError` for a mode Pillow cannot convert.
    """
    notes: list[str] = []
    im = image
    if im.mode in _SIXTEEN_BIT_MODES or im.mode in ("I", "F"):
        im = _deep_grey_to_l(im, notes)
    if im.mode == "La":  # premultiplied; Pillow converts it to LA only
        im = im.convert("LA")
    if im.mode in _ALPHA_MODES or "transparency" in im.info or _palette_has_alpha(im):
        im = im.convert("RGBA")
    elif im.mode == "P":
        im = im.convert("RGB")
    im = _icc_to_srgb(im, notes)
    if im.mode == "RGBA":
        im = _composite_on_white(im, notes)
    if im.mode != "RGB":
        if im.mode == "CMYK":
            notes.append("converted CMYK to RGB without a colour profile (colours are approximate)")
        try:
            im = im.convert("RGB")
        except (ValueError, OSError) as exc:
            raise ImageInputError(f"cannot convert image mode {im.mode} to RGB ({exc})") from None
    return im, notes


def _deep_grey_to_l(image: Image.Image, notes: list[str]) -> Image.Image:
    """16/32-bit integer or float greyscale mapped linearly onto 0..255, rounding to nearest.

    ``I;16*`` uses its full range 0..65535 (65535 -> 255, so 257 -> 1). ``I`` in 0..65535 is a 16-bit
    image Pillow widened, so it gets the same mapping; other ``I`` and ``F`` ranges (``F`` in 0..1 aside)
    have no fixed scale, so their actual minimum..maximum is stretched to 0..255.
    """
    source_mode = image.mode
    im = image.convert("I") if source_mode in _SIXTEEN_BIT_MODES else image
    low, high = _extrema(im)
    if source_mode in _SIXTEEN_BIT_MODES or (source_mode == "I" and low >= 0 and high <= 65535):
        low, high = 0, 65535
    elif source_mode == "F" and low >= 0 and high <= 1:
        low, high = 0, 1
    else:
        notes.append(f"stretched {source_mode} greyscale values {low}..{high} to 0..255")
    scale = 255 / (high - low) if high > low else 0.0
    offset = 0.5 - low * scale
    # point() with a linear function stays in I or F; the conversion to L truncates (hence the +0.5 in
    # the offset, to round) and clips, with nothing left to clip.
    scaled = im.point(lambda v: v * scale + offset)
    notes.append(f"scaled {source_mode} greyscale to 8 bits")
    return scaled.convert("L")


def _palette_has_alpha(image: Image.Image) -> bool:
    """Whether a palette image's colours carry alpha (a PNG palette with a tRNS chunk, say)."""
    return image.mode == "P" and image.palette is not None and image.palette.mode == "RGBA"


def _icc_to_srgb(image: Image.Image, notes: list[str]) -> Image.Image:
    """``image`` converted from its embedded ICC profile to sRGB (RGB, or RGBA keeping alpha).

    Left alone when there is no profile, it already is sRGB, the mode has no ICC path here, or the
    profile is unreadable (noted: a broken profile is no reason to refuse a picture).
    """
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in _ICC_MODES:
        return image
    try:
        from PIL import ImageCms  # fails where Pillow was built without LittleCMS
    except ImportError:
        notes.append("ignored the ICC colour profile: this Pillow has no LittleCMS")
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(source) or ""
        if image.mode != "CMYK" and "srgb" in description.lower():
            return image
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        notes.append(f"ignored an unusable ICC colour profile ({exc})")
        return image
    if converted is None:  # only with inPlace=True
        return image
    notes.append(f"converted colours from ICC profile {description.strip()!r} to sRGB")
    return converted


def _composite_on_white(image: Image.Image, notes: list[str]) -> Image.Image:
    """RGBA flattened onto white exactly as vLLM's ``rgba_to_rgb`` does (paste with the alpha as mask)."""
    alpha = image.getchannel("A")
    low, _high = _extrema(alpha)
    flat = Image.new("RGB", image.size, WHITE)
    flat.paste(image, mask=alpha)
    if low < 255:
        notes.append("composited transparent pixels onto white")
    return flat


def _extrema(band: Image.Image) -> tuple[float, float]:
    """``(min, max)`` of a one-band image (``getextrema`` is typed for any number of bands)."""
    low, high = band.getextrema()
    if isinstance(low, tuple) or isinstance(high, tuple):
        raise ValueError(f"expected a one-band image, got mode {band.mode}")
    return low, high
