"""``data:`` URLs for images (RFC 2397), the form the OpenAI-compatible chat API takes images in.

Only base64 data URLs carry binary images reliably, so those are the only ones accepted.
"""

from __future__ import annotations

import base64
import binascii
import re

from .image_errors import ImageInputError

_HEADER = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[\w.+-]+(?:=[^;,]*)?)*),", re.ASCII)
_WHITESPACE = re.compile(rb"\s+")


def is_data_url(text: str) -> bool:
    """Whether ``text`` is meant as a data URL rather than a path (a file named ``data:x`` is rare)."""
    return text[:5].lower() == "data:"


def parse_data_url(url: str, max_bytes: int) -> tuple[str, bytes]:
    """``(mime type, decoded bytes)`` of a base64 data URL, refusing more than ``max_bytes`` of payload.

    The size is checked from the URL's length before decoding, so a huge URL costs no second copy.
    Whitespace (line-wrapped base64) and missing ``=`` padding are tolerated, as browsers do; any other
    character outside the base64 alphabet is an error, not silently skipped.
    """
    match = _HEADER.match(url)
    if match is None:
        raise ImageInputError("malformed data URL: expected 'data:image/<type>;base64,<data>'")
    mime = (match.group("mime") or "text/plain").lower()
    params = [p.strip().lower() for p in match.group("params").split(";") if p.strip()]
    if "base64" not in params:
        raise ImageInputError("data URL is not base64-encoded: expected 'data:image/<type>;base64,<data>'")
    if not mime.startswith("image/"):
        raise ImageInputError(f"data URL has media type {mime!r}, not an image")
    payload = url[match.end() :]
    if len(payload) * 3 // 4 > max_bytes:
        raise ImageInputError(f"data URL holds about {len(payload) * 3 // 4:,} bytes, more than {max_bytes:,}")
    try:
        raw = _WHITESPACE.sub(b"", payload.encode("ascii"))
        raw += b"=" * (-len(raw) % 4)
        data = base64.b64decode(raw, validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ImageInputError(f"data URL has invalid base64 data ({exc})") from None
    if not data:
        raise ImageInputError("data URL is empty: no image data after the comma")
    return mime, data


def make_data_url(mime: str, data: bytes) -> str:
    """A base64 data URL of ``data`` with media type ``mime``."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
