"""The image input layer: a corpus of bad images, each a clear ImageInputError or a correct RGB image.

Every image is generated here (nothing binary in the repository). Besides the corpus: ``smart_resize``
against a copy of the reference algorithm, the tiling rule, and data URLs.
"""

from __future__ import annotations

import base64
import io
import itertools
import math
import random
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from conftest import require_module
from PIL import Image, ImageCms
from pydantic import ValidationError

from viscodex.model.image_tiling import plan_tiles, tile_image
from viscodex.model.images import (
    DEFAULT_BUDGET,
    DecodedImage,
    ImageInputError,
    ImageLimits,
    NormalizedImage,
    PixelBudget,
    decode_image,
    load_image,
    normalize_image,
    smart_resize,
    to_data_url,
)
from viscodex.model.pixel_budget import AspectRatioError, is_stable, resize_to_budget

SMALL_BUDGET = PixelBudget(max_pixels=1280 * 28 * 28)  # the processor class's default, 1280 tokens


# --- builders ---------------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    """Incompressible RGB pixels, so a file cut in half really misses pixel data."""
    return Image.frombytes("RGB", (width, height), random.Random(seed).randbytes(width * height * 3))


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose IHDR claims ``width`` x ``height`` 1-bit pixels (a bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def bmp_header_only(width: int, height: int) -> bytes:
    """A 54-byte BMP header claiming ``width`` x ``height`` 24-bit pixels, with none of them present."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + len(info) - 40, 0, 0, 54) + info


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def assert_model_ready(result: NormalizedImage | Image.Image, budget: PixelBudget = DEFAULT_BUDGET) -> None:
    """What every accepted image must be: RGB, sides in multiples of the patch factor, pixels within the
    budget (checked from the numbers themselves, not by asking smart_resize)."""
    image = result.image if isinstance(result, NormalizedImage) else result
    assert image.mode == "RGB"
    assert image.width % budget.factor == 0 and image.height % budget.factor == 0
    assert budget.min_pixels <= image.width * image.height <= budget.max_pixels
    if isinstance(result, NormalizedImage):
        assert result.tokens == (image.width // 28) * (image.height // 28)


# --- the corpus of bad images ----------------------------------------------------------------------

Source = str | bytes | Image.Image


def _empty_file(tmp_path: Path) -> Source:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    return str(path)


def _text_file(tmp_path: Path) -> Source:
    path = tmp_path / "notes.png"  # the name lies; the content decides
    path.write_text("just some text, not pixels\n", encoding="utf-8")
    return str(path)


REFUSED: dict[str, tuple[Callable[[Path], Source], str]] = {
    "empty bytes": (lambda _: b"", "is empty (0 bytes)"),
    "empty file": (_empty_file, "empty.png' is empty (0 bytes)"),
    "truncated png": (lambda _: encode(noise(200, 200), "PNG")[:30000], "truncated or corrupt (PNG"),
    "truncated jpeg": (lambda _: encode(noise(200, 200), "JPEG")[:6000], "truncated or corrupt (JPEG"),
    "png cut in its header": (lambda _: encode(noise(8, 8), "PNG")[:20], "looks like PNG but its header"),
    "random bytes": (lambda _: random.Random(1).randbytes(4096), "is not an image: unrecognised data"),
    "text file": (_text_file, "is not an image: unrecognised text starting with b'just some text"),
    "30000x30000 png": (lambda _: png_header_only(30000, 30000), "900,000,000 pixels, more than the limit"),
    "30000x30000 bmp": (lambda _: bmp_header_only(30000, 30000), "900,000,000 pixels, more than the limit"),
    "tiff": (lambda _: encode(noise(8, 8), "TIFF"), "is in TIFF format, which is not accepted"),
    "svg": (lambda _: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "is in SVG format"),
    "pdf": (lambda _: b"%PDF-1.7\n...", "is in PDF format, which is not accepted"),
    "missing file": (lambda p: str(p / "nope.png"), "no such image file"),
    "directory": (lambda p: str(p), "is a directory"),
    "device file": (lambda _: "/dev/zero", "is not a regular file"),
    "empty path": (lambda _: "", "the image path is empty"),
    "http url": (lambda _: "https://example.com/a.png", "images are not fetched from the network"),
    "bad base64 data url": (lambda _: "data:image/png;base64,iVBORw0KGgo!!!!", "invalid base64"),
    "data url, not base64": (lambda _: "data:image/svg+xml,<svg/>", "not base64-encoded"),
    "data url, not an image type": (lambda _: "data:text/plain;base64,aGVsbG8=", "not an image"),
    "data url without data": (lambda _: "data:image/png;base64,", "data URL is empty"),
    "data url, malformed": (lambda _: "data:image/png;base64", "malformed data URL"),
    "data url of text": (lambda _: data_url(b"hello there"), "the data URL is not an image"),
    "extreme aspect ratio 20100x100": (lambda _: Image.new("RGB", (20100, 100)), "aspect ratio 201.0"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_image_gives_a_clear_error(case: str, tmp_path: Path) -> None:
    build, message = REFUSED[case]
    with pytest.raises(ImageInputError) as caught:
        normalize_image(build(tmp_path))
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_size_is_checked_from_the_header_before_decoding() -> None:
    # Above our 100 MP but below Pillow's own refusal (~179 MP): our check is what refuses it.
    with pytest.raises(ImageInputError, match=r"10001x10000 = 100,010,000 pixels, more than the limit"):
        decode_image(png_header_only(10001, 10000))
    # The limit is configurable, and applies to Pillow images given directly too.
    limits = ImageLimits(max_pixels=10_000)
    with pytest.raises(ImageInputError, match="decompression bomb"):
        decode_image(encode(Image.new("RGB", (101, 100)), "PNG"), limits)
    with pytest.raises(ImageInputError, match="101x100"):
        decode_image(Image.new("RGB", (101, 100)), limits)
    assert decode_image(Image.new("RGB", (100, 100)), limits).image.size == (100, 100)


def test_byte_limit_and_format_allow_list_are_configurable(tmp_path: Path) -> None:
    png = encode(noise(40, 40), "PNG")
    with pytest.raises(ImageInputError, match="more than the limit of 100"):
        decode_image(png, ImageLimits(max_bytes=100))
    path = tmp_path / "big.png"
    path.write_bytes(png)
    with pytest.raises(ImageInputError, match="more than the limit of 100"):
        decode_image(path, ImageLimits(max_bytes=100))
    with pytest.raises(ImageInputError, match="is in JPEG format, which is not accepted"):
        decode_image(encode(noise(8, 8), "JPEG"), ImageLimits(allowed_formats=frozenset({"PNG"})))
    with pytest.raises(ValidationError, match="unknown image formats: NOPE"):
        ImageLimits(allowed_formats=frozenset({"PNG", "NOPE"}))


# --- the corpus of odd but valid images ------------------------------------------------------------


def test_animated_gif_uses_the_first_frame() -> None:
    frames = [Image.new("RGB", (64, 64), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = normalize_image(gif)
    assert_model_ready(result)
    assert pixel(result.image, (10, 10)) == (255, 0, 0)
    assert any("animated (GIF); only its first frame is used" in note for note in result.notes)


def test_animated_png_and_webp_use_the_first_frame() -> None:
    frames = [Image.new("RGB", (64, 64), (200, 0, 0)), Image.new("RGB", (64, 64), (0, 200, 0))]
    for fmt in ("PNG", "WEBP"):
        params: dict[str, object] = {"lossless": True} if fmt == "WEBP" else {}
        data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], **params)
        decoded = decode_image(data)
        assert pixel(decoded.image, (5, 5)) == (200, 0, 0), fmt
        assert any("first frame" in note for note in decoded.notes), fmt


def test_multi_picture_jpeg_counts_as_jpeg() -> None:
    # Phones write MPO (a JPEG with a second picture appended); Pillow reports MPO.
    frames = [Image.new("RGB", (32, 32), (0, 0, 200)), Image.new("RGB", (32, 32), (200, 0, 0))]
    decoded = decode_image(encode(frames[0], "MPO", save_all=True, append_images=frames[1:]))
    assert decoded.format == "JPEG"
    red, _, blue = pixel(decoded.image, (5, 5))
    assert blue > 180 and red < 20


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (64, 64), (255, 0, 0, 0))  # pure cyan ink
    cmyk.paste((0, 0, 0, 255), (32, 0, 64, 64))  # black ink on the right half
    result = normalize_image(encode(cmyk, "JPEG", quality=100))
    assert_model_ready(result)
    cyan = pixel(result.image, (8, 30))
    black = pixel(result.image, (50, 30))
    assert cyan[0] < 10 and cyan[1] > 245 and cyan[2] > 245
    assert max(black) < 10
    assert any("CMYK" in note for note in result.notes)


def test_16_bit_grey_png_is_scaled_not_clipped() -> None:
    gradient = Image.new("I;16", (256, 64))
    gradient.putdata([x * 257 for _ in range(64) for x in range(256)])
    data = encode(gradient, "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    upright = load_image(data)
    assert upright.mode == "RGB"
    assert [pixel(upright, (x, 10))[0] for x in range(256)] == list(range(256))  # exact, 65535 -> 255
    result = normalize_image(data)
    assert_model_ready(result)
    assert result.image.getextrema() == ((0, 255), (0, 255), (0, 255))
    assert 118 <= pixel(result.image, (result.width // 2, 20))[0] <= 138


def test_32_bit_and_float_grey_images_are_scaled() -> None:
    wide = Image.new("I", (300, 40))
    wide.putdata([-1000 + x * 10 for _ in range(40) for x in range(300)])  # -1000..1990: stretched
    result = load_image(wide)
    assert pixel(result, (0, 0)) == (0, 0, 0) and pixel(result, (299, 0)) == (255, 255, 255)
    unit = Image.new("F", (100, 40))
    unit.putdata([x / 99 for _ in range(40) for x in range(100)])  # 0..1: scaled by 255
    floats = load_image(unit)
    assert pixel(floats, (0, 0))[0] == 0 and pixel(floats, (99, 0))[0] == 255
    assert pixel(floats, (50, 0))[0] == round(50 / 99 * 255)


def exif_with(orientation: int, description_bytes: int = 0) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    if description_bytes:
        exif[0x010E] = "x" * description_bytes  # ImageDescription
    return exif


def marked(width: int, height: int) -> Image.Image:
    """White, with a red 10x10 block in the top-left corner as stored."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    image.paste((255, 0, 0), (0, 0, 10, 10))
    return image


def test_exif_orientation_6_is_applied() -> None:
    # Orientation 6: the stored picture must be turned 90 degrees clockwise to be upright.
    jpeg = encode(marked(80, 40), "JPEG", quality=100, exif=exif_with(6))
    decoded = decode_image(jpeg)
    assert decoded.image.size == (40, 80)
    red, green, _ = pixel(decoded.image, (35, 4))  # the stored top-left is now the top-right
    assert red > 200 and green < 60
    assert any("EXIF orientation 6" in note for note in decoded.notes)


def test_huge_exif_blocks_do_not_crash() -> None:
    # A JPEG APP1 segment holds at most 64 KiB; a PNG eXIf chunk has no limit.
    jpeg = encode(marked(80, 40), "JPEG", exif=exif_with(6, description_bytes=60_000))
    png = encode(marked(80, 40), "PNG", exif=exif_with(6, description_bytes=8_000_000))
    assert len(png) > 8_000_000
    for data in (jpeg, png):
        result = normalize_image(data)
        assert_model_ready(result)
        assert (result.original_width, result.original_height) == (40, 80)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_garbage_exif_is_ignored() -> None:
    ihdr_end = 8 + 25
    png = encode(marked(80, 40), "PNG")
    broken = png[:ihdr_end] + png_chunk(b"eXIf", b"MM\x00*" + b"\xff" * 64) + png[ihdr_end:]
    decoded = decode_image(broken)
    assert decoded.image.size == (80, 40)


def test_rgba_transparency_is_composited_onto_white() -> None:
    rgba = Image.new("RGBA", (56, 56), (0, 0, 0, 0))  # fully transparent *black*
    rgba.paste((255, 0, 0, 128), (0, 0, 28, 56))  # half-transparent red on the left
    rgba.paste((0, 0, 255, 255), (28, 0, 56, 56))  # opaque blue on the right
    for source in (rgba, encode(rgba, "PNG"), encode(rgba, "WEBP", lossless=True)):
        result = load_image(source)
        left = pixel(result, (5, 5))
        assert left[0] == 255 and abs(left[1] - 127) <= 1 and abs(left[2] - 127) <= 1
        assert pixel(result, (40, 5)) == (0, 0, 255)
    fully = Image.new("RGBA", (56, 56), (0, 0, 0, 0))
    assert load_image(fully).getextrema() == ((255, 255), (255, 255), (255, 255))


def test_palette_and_grey_transparency_become_white() -> None:
    palette = Image.new("P", (56, 56), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(1, (0, 0, 28, 56))
    png = encode(palette, "PNG", transparency=0)  # index 0 (black) is transparent
    result = load_image(png)
    assert pixel(result, (5, 5)) == (255, 0, 0)
    assert pixel(result, (40, 5)) == (255, 255, 255)
    gif = load_image(encode(palette, "GIF", transparency=0))
    assert pixel(gif, (40, 5)) == (255, 255, 255)
    grey_alpha = Image.new("LA", (56, 56), (0, 0))
    assert pixel(load_image(grey_alpha), (3, 3)) == (255, 255, 255)


def test_grey_and_bilevel_images_become_rgb() -> None:
    for mode, colour, expected in (("L", 77, (77, 77, 77)), ("1", 1, (255, 255, 255))):
        result = normalize_image(Image.new(mode, (60, 60), colour))
        assert_model_ready(result)
        assert pixel(result.image, (30, 30)) == expected


def test_tiny_image_is_scaled_up_to_the_minimum() -> None:
    result = normalize_image(encode(Image.new("RGB", (1, 1), (9, 99, 199)), "PNG"))
    assert_model_ready(result)
    assert result.image.size == (56, 56)
    assert pixel(result.image, (28, 28)) == (9, 99, 199)
    assert (result.original_width, result.original_height) == (1, 1)


def test_aspect_ratio_of_exactly_200_is_accepted() -> None:
    result = normalize_image(Image.new("RGB", (20000, 100), (1, 2, 3)))
    assert_model_ready(result)
    assert result.image.size == (19992, 112)


def test_icc_profiles_convert_to_srgb_and_broken_ones_are_ignored() -> None:
    image = noise(64, 64)
    srgb_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged = decode_image(encode(image, "PNG", icc_profile=srgb_icc))
    assert tagged.image.tobytes() == image.tobytes()  # already sRGB: untouched
    broken = decode_image(encode(image, "PNG", icc_profile=b"not a profile"))
    assert broken.image.tobytes() == image.tobytes()
    assert any("ICC" in note for note in broken.notes)


def test_data_urls_decode(tmp_path: Path) -> None:
    png = encode(noise(30, 30), "PNG")
    result = decode_image(data_url(png))
    assert result.format == "PNG" and result.image.tobytes() == noise(30, 30).tobytes()
    wrapped = "data:image/png;base64," + "\n".join(textwrap_76(base64.b64encode(png).decode()))
    assert decode_image(wrapped).image.size == (30, 30)
    mislabelled = decode_image(data_url(encode(noise(30, 30), "JPEG"), "image/png"))
    assert mislabelled.format == "JPEG"
    assert any("says image/png but holds a JPEG" in note for note in mislabelled.notes)
    path = tmp_path / "x.png"
    path.write_bytes(png)
    assert decode_image(path).image.tobytes() == decode_image(str(path)).image.tobytes()
    assert decode_image(bytearray(png)).format == "PNG"


def textwrap_76(text: str) -> list[str]:
    return [text[i : i + 76] for i in range(0, len(text), 76)]


def test_pillow_input_is_not_modified() -> None:
    frames = [Image.new("RGBA", (40, 40), (255, 0, 0, 0)), Image.new("RGBA", (40, 40), (0, 255, 0, 255))]
    animated = Image.open(io.BytesIO(encode(frames[0], "PNG", save_all=True, append_images=frames[1:])))
    animated.seek(1)
    decoded = decode_image(animated)
    assert pixel(decoded.image, (1, 1)) == (255, 255, 255)  # frame 0, transparent -> white
    assert animated.tell() == 1 and animated.mode == "RGBA"
    rgb = Image.new("RGB", (56, 56), (1, 2, 3))
    assert load_image(rgb) is not rgb
    with pytest.raises(TypeError, match="path, bytes, a PIL image or a data URL"):
        decode_image(12345)  # type: ignore[arg-type]


def test_normalize_accepts_a_decoded_image_and_is_idempotent() -> None:
    decoded = decode_image(encode(noise(333, 222), "PNG"))
    assert isinstance(decoded, DecodedImage)
    first = normalize_image(decoded)
    assert_model_ready(first)
    assert first.image.size == (12 * 28, 8 * 28)  # 333 / 28 = 11.9 -> 12, 222 / 28 = 7.9 -> 8
    assert any("resized from 333x222" in note for note in first.notes)
    second = normalize_image(first.to_data_url())
    assert second.image.tobytes() == first.image.tobytes()
    assert not any("resized" in note for note in second.notes)


# --- smart_resize ------------------------------------------------------------------------------------


def reference_smart_resize(
    height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 28 * 28 * 1280
) -> tuple[int, int]:
    """transformers 5.19's ``smart_resize`` (models/qwen2_vl/image_processing_pil_qwen2_vl.py), verbatim."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(
            f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}"
        )
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


BUDGETS = [
    PixelBudget(),
    SMALL_BUDGET,
    PixelBudget(min_pixels=256 * 28 * 28, max_pixels=1280 * 28 * 28),
    PixelBudget(min_pixels=56 * 56, max_pixels=56 * 56 * 4),
]


def sizes(count: int, seed: int) -> list[tuple[int, int]]:
    """Random sizes, tiny to huge, plus the rounding edges (odd multiples of 14 round half to even)."""
    rng = random.Random(seed)
    scales = (30, 600, 5000, 40000)
    out = [(rng.randint(1, rng.choice(scales)), rng.randint(1, rng.choice(scales))) for _ in range(count)]
    out += [(14 * k, 14 * j) for k in range(1, 40, 3) for j in range(1, 40, 3)]
    out += [(1, 1), (1, 200), (1, 201), (2160, 3840), (1080, 1920), (30000, 30000), (100, 20000)]
    return out


def outcome(
    fn: Callable[..., Sequence[int]], args: tuple[object, ...], refusal: type[Exception]
) -> tuple[int, ...] | str:
    """The size ``fn(*args)`` returns, or "refused" when it raises ``refusal``."""
    try:
        return tuple(fn(*args))
    except refusal:
        return "refused"


@pytest.mark.parametrize("budget", BUDGETS, ids=lambda b: f"{b.min_pixels}-{b.max_pixels}")
def test_smart_resize_matches_the_reference(budget: PixelBudget) -> None:
    for height, width in sizes(20000, seed=budget.max_pixels):
        args = (height, width, budget.factor, budget.min_pixels, budget.max_pixels)
        expected = outcome(reference_smart_resize, args, ValueError)
        got = outcome(smart_resize, (height, width, budget), AspectRatioError)
        assert got == expected, (height, width)


@pytest.mark.slow
def test_smart_resize_matches_installed_transformers() -> None:
    module = require_module("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")
    for budget in BUDGETS:
        for height, width in sizes(3000, seed=7):
            args = (height, width, budget.factor, budget.min_pixels, budget.max_pixels)
            expected = outcome(module.smart_resize, args, ValueError)
            got = outcome(smart_resize, (height, width, budget), AspectRatioError)
            assert got == expected, (height, width)


def test_smart_resize_examples_and_fixed_point() -> None:
    assert smart_resize(2160, 3840) == (2156, 3836)
    assert smart_resize(1, 1) == (56, 56)
    assert smart_resize(10, 1000) == (28, 560)
    assert smart_resize(30000, 30000) == (3584, 3584)
    assert smart_resize(2160, 3840, SMALL_BUDGET) == (728, 1316)
    with pytest.raises(AspectRatioError, match=r"aspect ratio 201\.0"):
        smart_resize(100, 20100)
    with pytest.raises(ValueError, match="positive"):
        smart_resize(0, 10)
    for budget in BUDGETS[:3]:
        for height, width in sizes(3000, seed=3):
            if max(height, width) / min(height, width) > 200:
                continue
            h_bar, w_bar = smart_resize(height, width, budget)
            assert budget.min_pixels <= h_bar * w_bar <= budget.max_pixels
            # Stable, except where rounding pushes the aspect ratio past 200 (Qwen's own quirk).
            assert is_stable(h_bar, w_bar, budget) == (max(h_bar, w_bar) / min(h_bar, w_bar) <= 200)


def test_an_unstable_model_size_is_left_to_the_server() -> None:
    # Ratio 199.2 is accepted, but smart_resize makes it 84x19124, ratio 227.7, which the server would
    # refuse if we sent it: so we send the image as it is and the server makes that resize itself.
    assert smart_resize(19124, 96) == (19124, 84) and not is_stable(19124, 84)
    result = normalize_image(Image.new("RGB", (96, 19124), (5, 6, 7)))
    assert result.image.size == (96, 19124)
    assert result.tokens == 3 * 683
    assert any("not stable" in note for note in result.notes)
    tiles = tile_image(Image.new("RGB", (96, 19124)))
    assert len(tiles) == 2
    for tile in tiles:
        assert_model_ready(tile.image)


def test_pixel_budget_validates() -> None:
    assert PixelBudget().min_pixels == 3136 and PixelBudget().max_pixels == 12845056
    with pytest.raises(ValidationError, match="below min_pixels"):
        PixelBudget(min_pixels=10_000, max_pixels=5_000)
    with pytest.raises(ValidationError):
        PixelBudget(max_aspect_ratio=1)


# --- tiling -------------------------------------------------------------------------------------------


def test_small_screenshot_stays_one_tile() -> None:
    image = noise(1280, 800)
    (tile,) = tile_image(image, SMALL_BUDGET)
    assert tile.box == (0, 0, 1280, 800) and tile.count == 1
    assert tile.image.tobytes() == normalize_image(image, SMALL_BUDGET).image.tobytes()


def test_tall_screenshot_is_cut_into_legible_strips() -> None:
    image = noise(1440, 9000)
    assert smart_resize(9000, 1440, SMALL_BUDGET)[0] / 9000 < 0.5  # whole, it would be illegible
    tiles = tile_image(image, SMALL_BUDGET)
    assert len(tiles) == 4
    for index, tile in enumerate(tiles):
        left, top, right, bottom = tile.box
        assert (left, right) == (0, 1440) and tile.index == index and tile.count == 4
        assert tile.scale >= 0.5
        assert_model_ready(
            NormalizedImage(
                tile.image,
                1440,
                bottom - top,
                None,
                (),
                SMALL_BUDGET.tokens(tile.image.height, tile.image.width),
            ),
            SMALL_BUDGET,
        )
        assert tile.image.tobytes() == resize_to_budget(image.crop(tile.box), SMALL_BUDGET).tobytes()
    assert tiles[0].box[1] == 0 and tiles[-1].box[3] == 9000
    for above, below in itertools.pairwise(tiles):
        assert 0 < above.box[3] - below.box[1] <= 64  # neighbours overlap, by at most 64 px


def test_tile_count_is_capped_and_wide_images_cut_across() -> None:
    capped = plan_tiles(1440, 9000, SMALL_BUDGET, max_tiles=2)
    assert len(capped) == 2
    assert plan_tiles(1440, 9000, SMALL_BUDGET, max_tiles=1) == [(0, 0, 1440, 9000)]
    wide = plan_tiles(9000, 1440, SMALL_BUDGET)
    assert len(wide) == 4 and all(top == 0 and bottom == 1440 for _, top, _, bottom in wide)


def test_tiling_handles_what_normalize_refuses() -> None:
    boxes = plan_tiles(100, 30000)  # aspect ratio 300 whole, two strips of about 150
    assert len(boxes) == 2
    for left, top, right, bottom in boxes:
        assert (bottom - top) / (right - left) <= 200
    with pytest.raises(ImageInputError, match="too elongated"):
        plan_tiles(1, 100000, max_tiles=8)


def test_a_picture_too_elongated_for_8_strips_gets_thin_ones_within_the_token_cap() -> None:
    for width, height in ((60000, 20), (20, 60000)):
        boxes = plan_tiles(width, height, SMALL_BUDGET)
        assert len(boxes) == 16  # 15 would be 203:1 with the overlap
        tokens = sum(SMALL_BUDGET.tokens(*smart_resize(b - t, r - left, SMALL_BUDGET)) for left, t, r, b in boxes)
        assert tokens <= 8 * 1280
    image = Image.new("L", (60000, 20), 128)
    tiles = tile_image(image, SMALL_BUDGET)
    assert [tile.box for tile in tiles] == plan_tiles(60000, 20, SMALL_BUDGET)
    assert all(tile.image.size == (3808, 28) for tile in tiles)
    with pytest.raises(ImageInputError, match=r"too elongated .* even 8 strips"):
        plan_tiles(60000, 20, SMALL_BUDGET, max_strips=8)  # the way it was: at most max_tiles strips
    with pytest.raises(ImageInputError, match="more than 1,280 visual tokens"):
        plan_tiles(200, 200 * 250, SMALL_BUDGET, max_tiles=1)  # 2 strips of 1280 tokens: twice one image


# --- data URLs -------------------------------------------------------------------------------------------


def test_to_data_url_round_trips_losslessly() -> None:
    image = noise(56, 84)
    url = to_data_url(image)
    assert url.startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).tobytes() == image.tobytes()
    assert to_data_url(image, "jpeg").startswith("data:image/jpeg;base64,")
    webp = to_data_url(image, "WEBP")
    assert load_image(webp).tobytes() == image.tobytes()
    assert to_data_url(Image.new("RGBA", (4, 4), (0, 0, 0, 0))) == to_data_url(Image.new("RGB", (4, 4), "white"))
    with pytest.raises(ValueError, match="PNG, JPEG or WEBP"):
        to_data_url(image, "GIF")
