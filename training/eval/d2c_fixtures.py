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
