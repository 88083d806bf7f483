"""Design2Code fixtures: real benchmark pages with project-made answers, each differing in one way.

The pages and answers are files in ``tests/data/design2code/`` (this module is used by the tests and by
``official_design2code.py``, from a source checkout): ``117`` and ``4405`` are Design2Code test pages
(``testset_final`` @ fd772b0) with their screenshots; ``<id>.text|color|remove.html`` change one text,
recolour one text, remove one text element (made by the project, see /work/vdata/design2code's manifest);
``117.broken.html`` is the page cut off in its ``<style>``; ``4405.plain.html`` is plain text without
tags; ``blank.html`` is a page without text; ``long.html`` holds a 300-character paragraph that
``long.typo.html`` rewords (difflib's autojunk applies).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "data" / "design2code"


@dataclass(frozen=True)
class Case:
    page: str
    """The reference: ``FIXTURES / f"{page}.html"``."""
    answer: str
    """The answer's file name in ``FIXTURES``."""

    @property
    def path(self) -> Path:
        return FIXTURES / self.answer


CASES: dict[str, Case] = {
    "117-perfect": Case("117", "117.html"),
    "117-text": Case("117", "117.text.html"),
    "117-color": Case("117", "117.color.html"),
    "117-remove": Case("117", "117.remove.html"),
    "117-broken": Case("117", "117.broken.html"),
    "4405-perfect": Case("4405", "4405.html"),
    "4405-text": Case("4405", "4405.text.html"),
    "4405-color": Case("4405", "4405.color.html"),
    "4405-remove": Case("4405", "4405.remove.html"),
    "4405-plain": Case("4405", "4405.plain.html"),
    "blank-perfect": Case("blank", "blank.html"),
    "long-typo": Case("long", "long.typo.html"),
}


RENDERS = FIXTURES / "renders"
"""The sandbox's renders of every page the fixture cases need (the pages, answers and their two
recoloured versions), by ``render_key``: the tests compare with the official numbers on these exact
pixels without starting a browser ~40 times. Made (and remade after a sandbox image change) with
``python -m viscodex.training.eval.d2c_fixtures``."""


def render_key(html: str) -> str:
    import hashlib

    return hashlib.sha256(html.encode("utf-8")).hexdigest()[:20]


class MissingRender(LookupError):
    """A page of the fixtures has no stored render; the message says how to make them."""


def stored_renderer(live: Callable[[str], bytes] | None = None, folder: Path = RENDERS) -> Callable[[str], bytes]:
    """A renderer that reads ``folder`` (``RENDERS``); with ``live``, a missing render is made and stored."""

    def render(html: str) -> bytes:
        path = folder / f"{render_key(html)}.png"
        if path.is_file():
            return path.read_bytes()
        if live is None:
            raise MissingRender(f"no stored render {path.name}: run python -m viscodex.training.eval.d2c_fixtures")
        png = _small_png(live(html))
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return png

    return render


def _small_png(png: bytes) -> bytes:
    """The same pixels, re-encoded as small as PNG goes: a palette (exact, no dithering) when the picture
    has at most 256 colours, as the mostly-white recoloured renders have."""
    import io

    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        pixels = np.asarray(image.convert("RGB"))
    colours, index = np.unique(pixels.reshape(-1, 3), axis=0, return_inverse=True)
    out = io.BytesIO()
    if len(colours) <= 256:
        picture = Image.fromarray(index.reshape(pixels.shape[:2]).astype(np.uint8), mode="P")
        picture.putpalette(colours.astype(np.uint8).flatten().tolist())
        picture.save(out, format="PNG", optimize=True)
    else:
        Image.fromarray(pixels).save(out, format="PNG", optimize=True)
    return out.getvalue()


def main() -> None:
    """Render every page the fixture cases need in the sandbox and store the missing ones."""
    from viscodex.sandbox import Sandbox

    from .design2code import page_blocks, preprocess_answer, render

    with Sandbox(pool={"html": 3}) as sandbox:
        renderer = stored_renderer(lambda html: render(sandbox, html))
        for page in sorted({case.page for case in CASES.values()}):
            page_blocks((FIXTURES / f"{page}.html").read_text(encoding="utf-8"), renderer)
        for name, case in CASES.items():
            page_blocks(preprocess_answer(case.path.read_text(encoding="utf-8")), renderer)
            print(name, flush=True)


if __name__ == "__main__":
    main()
