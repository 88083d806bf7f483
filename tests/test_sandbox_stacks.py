"""UI stacks other than plain HTML render with the network off, from runtimes baked into the image."""

from __future__ import annotations

import io

import pytest
from helpers import REACT
from PIL import Image

from viscodex.sandbox import Sandbox, Viewport

pytestmark = pytest.mark.docker

TAILWIND = """<!doctype html><html><head></head><body class="m-0">
<div class="bg-red-600 w-40 h-20"></div><p class="text-blue-700 text-2xl">Tailwind works</p></body></html>"""


def test_tailwind_classes_are_applied(sandbox: Sandbox) -> None:
    png = sandbox.render_html(TAILWIND, Viewport(width=400, height=200), full_page=False, stack="tailwind")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    r, g, b = image.getpixel((20, 20))
    assert r > 180 and g < 60 and b < 60, (r, g, b)  # bg-red-600, not the unstyled white


def test_without_the_stack_tailwind_classes_do_nothing(sandbox: Sandbox) -> None:
    png = sandbox.render_html(TAILWIND, Viewport(width=400, height=200), full_page=False)
    assert Image.open(io.BytesIO(png)).convert("RGB").getpixel((20, 20)) == (255, 255, 255)


def test_react_with_jsx_renders(sandbox: Sandbox) -> None:
    render = sandbox.render_html_blocks(REACT, Viewport(width=500, height=200), full_page=False, stack="react")
    texts = [block.text for block in render.blocks]
    assert any("Hello from React" in text for text in texts), texts
